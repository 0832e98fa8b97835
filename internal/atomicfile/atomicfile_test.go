package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	for _, want := range []string{"first", "second"} {
		if err := Write(path, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != want {
			t.Errorf("after Write(%q) the file holds %q", want, got)
		}
	}
	// The mode os.WriteFile gives a new file under the same umask.
	ref := filepath.Join(t.TempDir(), "ref")
	os.WriteFile(ref, nil, 0o666)
	want, _ := os.Stat(ref)
	if st, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != want.Mode().Perm() {
		t.Errorf("the file's mode is %v; want %v, as os.WriteFile gives", st.Mode(), want.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries; want only the file (no temporaries left)", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("Write into a missing folder: want an error")
	}
}

// TestWriteKeepsMode: replacing a file keeps the permissions it had.
func TestWriteKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("mode after replacing a 0600 file: %v; want -rw-------", st.Mode())
	}
}
