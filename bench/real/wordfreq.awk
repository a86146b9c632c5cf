# wordfreq.awk: word counts, per-key string building, split and gsub over a
# generated text, for the flymalloc benchmarks (mawk keeps every string and
# array element in malloc'd memory).
{
    for (i = 2; i < NF; i++) { c[$i]++; last[$i] = $1; wl += length($i) }
    k = $NF % 500
    line[k] = line[k] substr($2, 1, 3)
    if (length(line[k]) > 400) { tot += length(line[k]); line[k] = "" }
    s = $0; gsub(/w/, "W", s); n = split(s, parts, " "); tot += n
    key = $2 SUBSEP $3; pair[key] += $NF
}
END {
    for (w in c) { d++; sq += c[w] * c[w]; lsum += last[w] % 1000 }
    for (p in pair) { np++; ps += pair[p] % 7919 }
    for (k in line) tot += length(line[k])
    printf "words=%d sq=%d lsum=%d pairs=%d ps=%d tot=%d wl=%d\n", d, sq, lsum, np, ps, tot, wl
}
