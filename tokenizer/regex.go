package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
)

// HuggingFace's tokenizers compile a tokenizer.json's regexes with
// Oniguruma (Ruby syntax, Unicode), where \s, \d and \w are Unicode classes
// and ^ and $ anchor lines; Go's RE2 reads the same text with ASCII classes
// and whole-text anchors, so a pattern such as CLIP's [^\s\p{L}\p{N}]+ would
// compile and then split "hello\u00a0world" differently. rewriteRegex turns
// a pattern into the RE2 pattern that means what Oniguruma means, and
// refuses what it cannot express.

// Oniguruma's Unicode \s (the White_Space property) and \w (letters,
// marks, decimal digits, connector punctuation), as class contents.
const (
	unicodeSpace = `\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`
	unicodeWord  = `\p{L}\p{M}\p{Nd}\p{Pc}`
)

// rewriteRegex returns pattern (Oniguruma) as an RE2 pattern with the
// same meaning.
func rewriteRegex(pattern string) (string, error) {
	var b strings.Builder
	b.WriteString("(?m)") // ^ and $ anchor lines, as in Ruby syntax
	inClass, nested := false, 0
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			e := pattern[i]
			outside := func(set string) { // a class of its own, or its contents inside one
				if inClass {
					b.WriteString(set)
				} else {
					b.WriteString("[" + set + "]")
				}
			}
			switch e {
			case 's':
				outside(unicodeSpace)
			case 'w':
				outside(unicodeWord)
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				b.WriteString(`\P{Nd}`)
			case 'S', 'W':
				if inClass {
					return "", fmt.Errorf(`\%c inside a character class`, e)
				}
				set := unicodeSpace
				if e == 'W' {
					set = unicodeWord
				}
				b.WriteString("[^" + set + "]")
			case 'h': // a hexadecimal digit
				outside("0-9a-fA-F")
			case 'u': // \uHHHH
				if i+4 >= len(pattern) || !isHex4(pattern[i+1:i+5]) {
					return "", fmt.Errorf(`\u without four hexadecimal digits`)
				}
				b.WriteString(`\x{` + pattern[i+1:i+5] + "}")
				i += 4
			case 'b', 'B', 'H', 'R', 'X', 'Z', 'G', 'K':
				return "", fmt.Errorf(`\%c has no RE2 equivalent here`, e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			if strings.HasPrefix(pattern[i+1:], "^") {
				b.WriteByte('^')
				i++
			}
			if strings.HasPrefix(pattern[i+1:], "]") { // a literal ] first
				b.WriteByte(']')
				i++
			}
		case c == '[' && inClass && !strings.HasPrefix(pattern[i+1:], "^") && !strings.HasPrefix(pattern[i+1:], ":"):
			if touchesDash(pattern, i) {
				return "", fmt.Errorf("a '-' beside a nested class (%q)", pattern[max(0, i-2):min(len(pattern), i+4)])
			}
			nested++ // a plain nested class is a union: its brackets go (BLOOM's [^(\s|[.,!?…])])
		case c == ']' && inClass && nested > 0:
			if touchesDash(pattern, i) {
				return "", fmt.Errorf("a '-' beside a nested class (%q)", pattern[max(0, i-2):min(len(pattern), i+4)])
			}
			nested--
		case c == '[' && inClass:
			return "", fmt.Errorf("a negated nested class or [:name:] class (%q)", pattern[i:min(len(pattern), i+8)])
		case c == '{' && !inClass && upTo.MatchString(pattern[i:]):
			b.WriteString("{0,") // Ruby's {,n} is {0,n}; RE2 would read it as text
			i++
		case c == '&' && inClass && strings.HasPrefix(pattern[i:], "&&"):
			return "", fmt.Errorf("a class intersection (&&)")
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '(' && !inClass && strings.HasPrefix(pattern[i:], "(?") && !strings.HasPrefix(pattern[i:], "(?:"):
			rest := pattern[i+2:]
			if rest != "" && (rest[0] == '<' || rest[0] == 'P') && !strings.HasPrefix(rest, "<=") && !strings.HasPrefix(rest, "<!") {
				b.WriteByte(c) // a named group
				continue
			}
			if strings.HasPrefix(rest, "i:") || strings.HasPrefix(rest, "i)") {
				b.WriteByte(c) // case-insensitive, the same in both
				continue
			}
			return "", fmt.Errorf("a group with options or a look-around (%q)", pattern[i:min(len(pattern), i+6)])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// upTo matches Ruby's {,n} quantifier at the start of a text ({,} and
// {,x} are literal text there, as in RE2).
var upTo = regexp.MustCompile(`^\{,[0-9]+\}`)

// touchesDash reports whether the bracket at pattern[i] has an unescaped
// '-' right before or after it: dropping the bracket would make a range of
// it.
func touchesDash(pattern string, i int) bool {
	before := i > 0 && pattern[i-1] == '-' && !(i > 1 && pattern[i-2] == '\\')
	return before || i+1 < len(pattern) && pattern[i+1] == '-'
}

func isHex4(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s) == 4
}
