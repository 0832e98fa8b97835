package tokenizer

import (
	"encoding/json"
	"regexp"
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
func applyVariant(t *testing.T, base []byte, patch map[string]json.RawMessage) []byte {
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
