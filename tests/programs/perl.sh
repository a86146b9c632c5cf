#!/usr/bin/env bash
# perl: a Perl script churning hashes, arrays, strings (concatenation,
# substitution, split/join, sprintf), sorting with custom comparators,
# nested data and regexes prints the same on flymalloc as on glibc.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v perl >/dev/null || skip "perl not installed"
cat >"$FLY_TMP/work.pl" <<'PERL'
use strict; use warnings;
my $seed = 42;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed; }
my %h;
for my $i (1 .. 300000) {
    my $k = "key" . (rnd() % 40000);
    push @{ $h{$k} }, $i;
    delete $h{ "key" . (rnd() % 40000) } if $i % 11 == 0;
}
my $n = 0; $n += scalar @{ $h{$_} } for keys %h;
print "hash ", scalar(keys %h), " $n\n";
my @words = map { join '', map { chr(97 + rnd() % 26) } 1 .. (1 + rnd() % 20) } 1 .. 100000;
my $text = join ' ', @words;
(my $t2 = $text) =~ s/([aeiou])/uc($1) x 3/ge;
print "text ", length($text), " ", length($t2), " ", scalar(() = $text =~ /ab/g), "\n";
my @sorted = sort { length($a) <=> length($b) or $a cmp $b } @words;
print "sort $sorted[0] $sorted[-1] $sorted[50000]\n";
my @nums = sort { $a <=> $b } map { rnd() } 1 .. 200000;
print "nums $nums[0] $nums[-1] $nums[100000]\n";
my %count; $count{$_}++ for @words;
my @top = (sort { $count{$b} <=> $count{$a} or $a cmp $b } keys %count)[0 .. 4];
print "top @top\n";
my $s = '';
$s .= sprintf("%05d:%s;", $_, $words[$_ % @words]) for 1 .. 100000;
my @parts = split /;/, $s;
print "concat ", length($s), " ", scalar(@parts), "\n";
my @nested = map { { id => $_, list => [ (1) x ($_ % 50) ], name => "n$_" } } 1 .. 50000;
my $sum = 0; $sum += scalar @{ $_->{list} } for @nested;
print "nested $sum\n";
my $big = 'x' x 10_000_000; substr($big, 5_000_000, 1) = 'y';
print "big ", index($big, 'y'), "\n";
PERL
compare perl perl "$FLY_TMP/work.pl"
