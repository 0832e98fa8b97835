package eval

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFile writes content to name in dir, gzip-compressed when name ends in ".gz".
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	data := []byte(content)
	if strings.HasSuffix(name, ".gz") {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write(data)
		z.Close()
		data = b.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadSegments(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          []string
	}{
		{"empty.txt", "", nil},
		{"one.txt", "a", []string{"a"}},
		{"trailing.txt", "a\nb\n", []string{"a", "b"}},
		{"no-trailing.txt", "a\nb", []string{"a", "b"}},
		{"blank-lines.txt", "a\n\n\nb\n\n", []string{"a", "", "", "b", ""}},
		{"crlf.txt", "a \r\nb\t\r\n", []string{"a", "b"}},
		// Only "\n" ends a segment, as in sacreBLEU (newline="\n"); a lone "\r" stays inside.
		{"cr.txt", "a\rb\n", []string{"a\rb"}},
		{"bom.txt", "\ufeffa\n", []string{"\ufeffa"}},
		{"lead-space.txt", "  a\n", []string{"  a"}},
		{"gz.txt.gz", "x y\nz\n", []string{"x y", "z"}},
	}
	for _, tt := range tests {
		got, err := ReadSegments(writeFile(t, dir, tt.name, tt.content))
		if err != nil {
			t.Errorf("ReadSegments(%s): %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ReadSegments(%s) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestReadSegmentsErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.gz") // named .gz but not compressed
	if err := os.WriteFile(plain, []byte("not gzip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.txt"), "missing.txt"},
		{writeFile(t, dir, "latin1.txt", "ok\nbad \xe9\n"), "latin1.txt:2: not valid UTF-8"},
		{plain, "plain.gz"},
	}
	for _, tt := range tests {
		if _, err := ReadSegments(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadSegments(%s) error = %v; want one containing %q", tt.path, err, tt.want)
		}
	}
}

func TestRunBLEU(t *testing.T) {
	dir := t.TempDir()
	hyp := writeFile(t, dir, "hyp.txt", strings.Join(readmeHyps, "\n")+"\n")
	ref1 := writeFile(t, dir, "ref1.txt", strings.Join(readmeRefs[0], "\n")+"\n")
	ref2 := writeFile(t, dir, "ref2.txt.gz", strings.Join(readmeRefs[1], "\n"))

	var out bytes.Buffer
	if err := RunBLEU([]string{ref1, ref2}, hyp, false, &out); err != nil {
		t.Fatal(err)
	}
	if want := "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)\n"; out.String() != want {
		t.Errorf("RunBLEU = %q; want %q", out.String(), want)
	}

	out.Reset()
	if err := RunBLEU([]string{ref1, ref2}, hyp, true, &out); err != nil {
		t.Fatal(err)
	}
	var s Score
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("RunBLEU --json = %q: %v", out.String(), err)
	}
	want, _ := BLEU(readmeHyps, readmeRefs)
	if s != want || bytes.Count(out.Bytes(), []byte("\n")) != 1 {
		t.Errorf("RunBLEU --json = %q; want one line with %+v", out.String(), want)
	}

	out.Reset()
	if err := RunChrF([]string{ref1, ref2}, hyp, false, &out); err != nil || out.String() != "chrF2 = 59.73\n" {
		t.Errorf("RunChrF = %q, %v; want %q", out.String(), err, "chrF2 = 59.73\n")
	}
}

func TestRunBLEUErrors(t *testing.T) {
	dir := t.TempDir()
	hyp := writeFile(t, dir, "hyp.txt", "a\nb\n")
	short := writeFile(t, dir, "short.txt", "a\n")
	empty := writeFile(t, dir, "empty.txt", "")
	tests := []struct {
		refs []string
		hyp  string
		want string
	}{
		{[]string{short}, hyp, "reference " + short + " has 1 lines but hypothesis " + hyp + " has 2"},
		{[]string{hyp, short}, hyp, short + " has 1 lines"},
		{nil, hyp, "no reference files"},
		{[]string{empty}, empty, "hypothesis " + empty + " is empty"},
		{[]string{hyp}, filepath.Join(dir, "nope.txt"), "nope.txt"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := RunBLEU(tt.refs, tt.hyp, false, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RunBLEU(%q, %q) error = %v; want one containing %q", tt.refs, tt.hyp, err, tt.want)
		}
		if out.Len() != 0 {
			t.Errorf("RunBLEU(%q, %q) wrote %q on error", tt.refs, tt.hyp, out.String())
		}
	}
}
