#!/usr/bin/env bash
# git: git init, many commits of generated files (adds, edits, renames,
# deletes), branches and a merge, log with diffs, blame, grep, gc --aggressive
# (which repacks with delta compression, many threads) and fsck give the
# same output on flymalloc as on glibc.  Dates and identities are fixed so
# that commit ids are identical.
# flytest: timeout=300
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v git >/dev/null || skip "git not installed"
cat >"$FLY_TMP/git_work.sh" <<'SH'
set -e
export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=Test
export GIT_COMMITTER_EMAIL=t@example.invalid GIT_CONFIG_NOSYSTEM=1 HOME=$1 LC_ALL=C
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
rm -rf "$1/repo"
git init -q -b main "$1/repo"
cd "$1/repo"
git config gc.auto 0
for c in $(seq 1 60); do
    for f in $(seq 1 15); do
        awk -v c=$c -v f=$f 'BEGIN { for (i = 0; i < 200 + f * 10; i++) printf "line %d of file %d, commit %d %s\n", i, f, (i % 7 == 0 ? c : 0), (i % 13 == f ? "changed" : "") }' >"file$f.txt"
    done
    [ $((c % 10)) -eq 0 ] && git mv "file$((c / 10)).txt" "renamed$c.txt" && rm -f "file$((c / 10)).txt"
    git add -A
    git commit -q -m "commit $c"
done
git checkout -q -b side HEAD~20
echo "side change" >>file3.txt
git commit -q -am "side"
git checkout -q main
git merge -q --no-edit side >/dev/null || { git checkout --theirs file3.txt; git add file3.txt; git commit -q -m merge; }
git log --stat --format='%H %s' | head -n 400
git log -p -n 5 | md5sum
git blame -s file5.txt | tail -n 5
git grep -c 'changed' | head
git gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs)'
git fsck --full --strict 2>&1
git rev-parse HEAD
SH
compare git bash "$FLY_TMP/git_work.sh" "$FLY_TMP"
