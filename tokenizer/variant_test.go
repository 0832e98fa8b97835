package tokenizer

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// variant is an entry of testdata/variants.json: a base tokenizer.json with
// some components swapped, to test components the three real files do not
// use. tools/tokgolden applies the same patch before asking HuggingFace.
type variant struct {
	Name  string                     `json:"name"`
	Base  string                     `json:"base"`
	Patch map[string]json.RawMessage `json:"patch"`
}

var charsmapRE = regexp.MustCompile(`"precompiled_charsmap":\s*"([^"]*)"`)

// applyVariant mirrors applyVariant in tools/tokgolden/golden.js.
func applyVariant(t testing.TB, base []byte, patch map[string]json.RawMessage) []byte {
	t.Helper()
	var j map[string]json.RawMessage
	if err := json.Unmarshal(base, &j); err != nil {
		t.Fatal(err)
	}
	charsmap := charsmapRE.FindSubmatch(j["normalizer"])
	for k, v := range patch {
		switch k {
		case "model":
			var m, p map[string]json.RawMessage
			if err := json.Unmarshal(j["model"], &m); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v, &p); err != nil {
				t.Fatal(err)
			}
			for pk, pv := range p {
				m[pk] = pv
			}
			j["model"] = mustJSON(m)
		case "extra_added_tokens":
			var a, b []json.RawMessage
			if err := json.Unmarshal(j["added_tokens"], &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v, &b); err != nil {
				t.Fatal(err)
			}
			j["added_tokens"] = mustJSON(append(a, b...))
		default:
			j[k] = v
		}
	}
	out := string(mustJSON(j))
	if charsmap != nil {
		out = strings.Replace(out, `"precompiled_charsmap":null`, `"precompiled_charsmap":"`+string(charsmap[1])+`"`, 1)
	}
	return []byte(out)
}

func TestGoldenVariants(t *testing.T) {
	var variants []variant
	if err := json.Unmarshal(readTestdata(t, "variants.json"), &variants); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v.Name, func(t *testing.T) {
			tok, err := Parse(applyVariant(t, readTestdata(t, v.Base), v.Patch))
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenLines(t, tok, readGolden(t, "golden-"+v.Name+".jsonl.gz"))
		})
	}
}

// TestSpaceRunWindow: spaceRunPattern's windowed search finds the matches
// a search over the whole text finds, for the GPT-2 family's patterns
// (variants.json) on texts whose runs of letters, digits, spaces, newlines
// and punctuation are longer than any window, and with windows of 1 byte.
func TestSpaceRunWindow(t *testing.T) {
	runs := []string{"a", "Z", "é", "中", "7", " ", "\u3000", "\n", "\r\n", "!", "'s", "a'll", "Zz'VE", "\t", "\u0301", "!/\n", " \n", "\n ", "\u00a0"}
	r := uint32(7)
	next := func(n int) int { r ^= r << 13; r ^= r >> 17; r ^= r << 5; return int(r % uint32(n)) }
	var texts []string
	for range 100 {
		var b strings.Builder
		for range 1 + next(12) {
			b.WriteString(strings.Repeat(runs[next(len(runs))], []int{1, 2, 3, 255, 256, 257, 600}[next(7)]))
		}
		texts = append(texts, b.String())
	}
	// Runs of capitals longer than a window, a lower-case letter after
	// (o200k's alternatives end a windowed match at the mark or the Lo
	// before them unless the window widens over letters).
	texts = append(texts, "中"+strings.Repeat("Z", 300)+"a", "A\u0301"+strings.Repeat("A", 300)+"b", strings.Repeat("中", 100)+"Zz")
	defer func(w int) { spaceRunWindow = w }(spaceRunWindow)
	pats := spaceRunPatterns(t)
	for name, p := range pats {
		if !p.windowed {
			t.Errorf("%s: its pattern is not searched a window at a time", name)
		}
		for i, text := range texts {
			spaceRunWindow = 1 << 30
			want := p.findMatches(text)
			for _, w := range []int{1, 7, 9, 20, 256} {
				spaceRunWindow = w
				if got := p.findMatches(text); !slices.Equal(got, want) {
					t.Fatalf("%s, window %d, text %d: %d matches; the whole text's %d\n%q\n%v\n%v", name, w, i, len(got), len(want), text[:min(len(text), 300)], got[:min(len(got), 8)], want[:min(len(want), 8)])
				}
			}
		}
	}
	if len(pats) != 3 {
		t.Errorf("%d variants with such a pattern; want 3", len(pats))
	}
	// A pattern not known to be safe is searched whole: its first
	// alternative needs the x after a run longer than the window, and
	// in a window its second would match a letter.
	x := `\p{L}+x|\p{L}|\s+(?!\S)|\s+`
	compiled, err := patternSpec{Regex: &x}.compile("x")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("a", 300) + "x b"
	if got := compiled.findMatches(text); len(got) != 3 || got[0].end != 301 {
		t.Errorf("%s on %d letters and x: %v", x, 300, got)
	}
	// The look-ahead elsewhere than at the end is refused, as before.
	y := `\s+(?!\S)|\s+x|\p{L}+`
	if _, err := (patternSpec{Regex: &y}).compile("y"); err == nil || !strings.Contains(err.Error(), "look-around") {
		t.Errorf("%s: %v", y, err)
	}
}

// spaceRunPatterns returns, by variant name, the split patterns of
// variants.json that compile to a spaceRunPattern.
func spaceRunPatterns(tb testing.TB) map[string]spaceRunPattern {
	var variants []variant
	if err := json.Unmarshal(readTestdata(tb, "variants.json"), &variants); err != nil {
		tb.Fatal(err)
	}
	pats := map[string]spaceRunPattern{}
	for _, v := range variants {
		var pre struct {
			Pretokenizers []struct{ Pattern patternSpec }
		}
		json.Unmarshal(v.Patch["pre_tokenizer"], &pre)
		if len(pre.Pretokenizers) == 0 || pre.Pretokenizers[0].Pattern.Regex == nil {
			continue
		}
		if c, err := pre.Pretokenizers[0].Pattern.compile(v.Name); err == nil {
			if p, ok := c.(spaceRunPattern); ok {
				pats[v.Name] = p
			}
		}
	}
	return pats
}

// FuzzSpaceRunWindow: for the patterns searched a window at a time, any
// text splits as the whole-text search splits it, with windows of 1 to 64
// bytes.
func FuzzSpaceRunWindow(f *testing.F) {
	var pats []spaceRunPattern
	for _, p := range spaceRunPatterns(f) {
		if p.windowed {
			pats = append(pats, p)
		}
	}
	if len(pats) != 3 {
		f.Fatalf("%d patterns searched a window at a time; want 3", len(pats))
	}
	for _, s := range []string{"Hello  world\n\n  x", "ABCdef's  12345\t\n", "中ZZZZa 'll !!/\n", "A\u0301AAAb  \u3000x"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, text string, w uint8) {
		defer func(old int) { spaceRunWindow = old }(spaceRunWindow)
		for _, p := range pats {
			spaceRunWindow = 1 << 30
			want := p.findMatches(text)
			spaceRunWindow = 1 + int(w%64)
			if got := p.findMatches(text); !slices.Equal(got, want) {
				t.Fatalf("window %d, %q: %v; whole text %v", spaceRunWindow, text, got, want)
			}
		}
	})
}
