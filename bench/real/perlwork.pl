# perlwork.pl: hash and string churn in Perl for the flymalloc benchmarks.
#
# Models a text-processing Perl program: it fills a large hash with keys
# built by sprintf and values grown by appending, splits and joins words,
# counts them in a second hash, deletes half the entries, and runs global
# regex substitutions over a long string.  Perl allocates every scalar body,
# hash bucket array and string buffer with malloc (Debian's perl does not
# use its own allocator), so this is small- and medium-object churn with
# many reallocs.
#
# Usage: perl perlwork.pl N.  Prints "checksum=X" and exits 2 if X is not
# the known result for N; BENCH_CORRUPT=1 alters one value first, so the
# check must fail.
use strict;
use warnings;

# N -> checksum, for the sizes the harness uses (tiny, quick, full).
my %EXPECTED = (300 => 2711157386, 100000 => 1050012783, 400000 => 3542111429);

my $n = shift or die "usage: perlwork.pl N\n";
my $M = 4294967291;
my %h;
for my $i (1 .. $n) {
    my $k = sprintf("key%07d", ($i * 7919) % ($n * 2));
    $h{$k} .= sprintf("%x:", ($i * 31) % 65521);
}
$h{ sprintf("key%07d", 7919 % ($n * 2)) } .= "!" if ($ENV{BENCH_CORRUPT} // "") eq "1";

my @words;
for my $i (1 .. $n) {
    push @words, join("-", map { chr(97 + ($i * $_) % 26) x (1 + $_ % 5) } 1 .. 8);
}
my %count;
$count{$_}++ for map { split /-/ } @words;

for my $k (keys %h) {
    delete $h{$k} if length($h{$k}) % 2;
}

my $sum = 0;
for my $k (sort keys %h) {
    $sum = ($sum * 31 + unpack("%32C*", $k . $h{$k})) % $M;
}
for my $w (sort keys %count) {
    $sum = ($sum * 17 + $count{$w} + length $w) % $M;
}
my $big = join(",", @words[0 .. ($n > 20000 ? 20000 : $n) - 1]);
for (1 .. 4) {
    $big =~ s/(\w)-(\w)/$2$1/g;
    $big = reverse $big;
}
$sum = ($sum + unpack("%32C*", $big) + length $big) % $M;

print "checksum=$sum records=$n\n";
my $want = $EXPECTED{$n};
if (!defined $want) {
    print STDERR "no expected checksum for N=$n\n";
    exit 1;
}
if ($sum != $want) {
    print STDERR "CHECK FAILED: perlwork checksum $sum, expected $want\n";
    exit 2;
}
exit 0;
