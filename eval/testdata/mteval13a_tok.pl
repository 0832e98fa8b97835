#!/usr/bin/env perl
# Writes tok13a_mteval.tsv: each line of tok13a_inputs.txt, a tab, and its tokenization
# by the `tokenization` subroutine of NIST's mteval (the 13a tokenizer that sacreBLEU
# reproduces), with case preserved as `mteval -c` and sacreBLEU do.
#
# The subroutine is read from a copy of mteval-v14.pl (its non-international tokenization
# is mteval-v13a's), e.g. the one sacreBLEU kept in its history:
#
#   git -C SACREBLEU_CHECKOUT show 5bc80ce^:scripts/mteval-v14.pl > /tmp/mteval-v14.pl
#   perl mteval13a_tok.pl /tmp/mteval-v14.pl < tok13a_inputs.txt > tok13a_mteval.tsv
#
# Perl works on bytes here, which matches sacreBLEU's regular expressions on UTF-8 text
# but not its Unicode whitespace, so the inputs avoid non-ASCII whitespace and tabs.
use strict;
use warnings;

my $mteval = shift or die "usage: $0 mteval-v14.pl < inputs > output\n";
open(my $fh, '<', $mteval) or die "$mteval: $!\n";
my $src = do { local $/; <$fh> };
my ($sub) = $src =~ /^(sub tokenization\n\{.*?^\})/ms or die "no sub tokenization in $mteval\n";
our $preserve_case = 1;
$sub =~ s/\$preserve_case/\$main::preserve_case/g;
eval "$sub; 1" or die $@;

while (my $line = <STDIN>) {
	chomp $line;
	print $line, "\t", tokenization($line), "\n";
}
