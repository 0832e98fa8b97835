package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEachBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("a\nb\nc\nd\ne\n"), 0o644)
	var got [][]string
	err := eachBatch(path, 2, func(lines []string) error {
		got = append(got, slices.Clone(lines))
		return nil
	})
	if err != nil || len(got) != 3 || !slices.Equal(got[2], []string{"e"}) || !slices.Equal(got[0], []string{"a", "b"}) {
		t.Errorf("eachBatch = %q, %v; want [[a b] [c d] [e]]", got, err)
	}
	if err := eachBatch(filepath.Join(t.TempDir(), "missing"), 2, nil); err == nil {
		t.Error("eachBatch of a missing file: want an error")
	}
}

// TestReportDone: a run's last line names its metrics, or says it stopped
// before any evaluation (it printed a validation loss of 0 then).
func TestReportDone(t *testing.T) {
	var b strings.Builder
	reportDone(&b, time.Now(), 76, nil, "runs/x", [2]string{"validation loss", "val_loss"})
	reportDone(&b, time.Now(), 80, map[string]float64{"val_loss": 1.25, "val_accuracy": 0.5}, "runs/x",
		[2]string{"validation loss", "val_loss"}, [2]string{"accuracy", "val_accuracy"})
	want := "done in 0s: step 76, stopped before any evaluation; run folder runs/x (ckpt/, metrics.jsonl, loss.png, loss.svg)\n" +
		"done in 0s: step 80, validation loss 1.2500, accuracy 0.5000; run folder runs/x (ckpt/, metrics.jsonl, loss.png, loss.svg)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
