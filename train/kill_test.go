package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tests here copy a run folder as it lies on disk at some moment of a
// run: what a kill -9 at that moment would leave.

// resumeFrom resumes the run whose folder is dir in a fresh model, as attn
// train --resume does, and returns it ready to run.
func resumeFrom(t *testing.T, dir string) *Run {
	t.Helper()
	ckpt, err := CheckpointDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	m := newBigram(11)
	if err := m.load(ckpt); err != nil {
		t.Fatal(err)
	}
	r := newTestRun(dir, m)
	r.Cfg = st.Config
	if err := r.Resume(ckpt); err != nil {
		t.Fatalf("resume %s: %v", dir, err)
	}
	return r
}

// steps returns the training steps metrics.jsonl records, in order.
func steps(t *testing.T, dir string) []int {
	t.Helper()
	ms, err := readMetrics(filepath.Join(dir, "metrics.jsonl"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var s []int
	for _, m := range ms {
		if m.Loss != nil {
			s = append(s, m.Step)
		}
	}
	return s
}

// TestKillAfterCheckpoint: killed just after a periodic checkpoint, a run
// resumes from it with the metrics of every step up to it. (Metrics went
// through a buffer flushed only at evaluations: the file ended mid-line
// short of the checkpoint's step, and resuming failed on that line.)
func TestKillAfterCheckpoint(t *testing.T) {
	dir, killed := t.TempDir(), filepath.Join(t.TempDir(), "killed")
	m := newBigram(11)
	run := newTestRun(dir, m)
	run.Cfg.Steps, run.Cfg.SaveEvery, run.Cfg.EvalEvery = 100, 50, 0
	calls := 0
	m.onLoss = func() {
		if calls++; calls == 2*51 { // step 51's first micro-batch: the checkpoint at 50 is saved
			if err := os.CopyFS(killed, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := resumeFrom(t, killed)
	if r.Step() != 50 {
		t.Fatalf("resumed at step %d; want 50", r.Step())
	}
	if s := steps(t, killed); len(s) != 50 || s[0] != 1 || s[49] != 50 {
		t.Errorf("metrics kept on resuming: %d steps (%v…); want steps 1..50", len(s), s[:min(len(s), 3)])
	}
}

// TestKillDuringResumedRun: a resumed run killed before its next flush
// keeps the history up to its checkpoint. (The file was truncated and the
// history rewritten into the buffer: a kill left it empty, and the next
// resume accepted that.)
func TestKillDuringResumedRun(t *testing.T) {
	dir, killed := t.TempDir(), filepath.Join(t.TempDir(), "killed")
	m := newBigram(11)
	run := newTestRun(dir, m)
	run.Cfg.Steps, run.Cfg.EvalEvery = 100, 0
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	m.onLoss = func() {
		if calls++; calls == 2*20 {
			cancel() // Ctrl-C during step 20: saved at step 20
		}
	}
	if _, err := run.Run(ctx); err != nil {
		t.Fatal(err)
	}
	r := resumeFrom(t, dir)
	calls = 0
	r.Job.(*LMJob).Model.(*bigram).onLoss = func() {
		if calls++; calls == 2*2+1 { // step 22
			if err := os.CopyFS(killed, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := resumeFrom(t, killed)
	if again.Step() != 20 {
		t.Fatalf("resumed at step %d; want 20", again.Step())
	}
	if s := steps(t, killed); len(s) != 20 || s[19] != 20 {
		t.Errorf("metrics after a kill in the resumed run: %d steps; want steps 1..20", len(s))
	}
}

// TestSaveKeepsACheckpoint: a save that fails before its new checkpoint is
// in place removes neither the checkpoint before it nor its own, and the
// newer one, complete in ckpt.tmp, is the one found, taken for a run by
// NewRunFolder, and moved into place by the next save. (Save removed
// ckpt.old first: after a save killed between its renames, the next one
// left, for a moment, only ckpt.tmp, which nothing looked for, and a new
// run in the folder then deleted it.)
func TestSaveKeepsACheckpoint(t *testing.T) {
	dir := t.TempDir()
	run := newTestRun(dir, newBigram(11))
	run.Cfg.Steps = 6
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// As a save killed between its renames leaves it: the checkpoint before
	// in ckpt.old, and no ckpt. A file named ckpt makes the next save fail
	// at its last rename, as a kill there would stop it.
	cur, old, tmp := filepath.Join(dir, ckptDir), filepath.Join(dir, ckptOldDir), filepath.Join(dir, ckptTmpDir)
	if err := os.Rename(cur, old); err != nil {
		t.Fatal(err)
	}
	r := resumeFrom(t, dir)
	if err := os.WriteFile(cur, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(); err == nil {
		t.Fatal("Save succeeded with a file in ckpt's place")
	}
	if !complete(old) || !complete(tmp) {
		t.Fatalf("after a failed save: ckpt.old complete %v, ckpt.tmp complete %v; want both", complete(old), complete(tmp))
	}
	if err := os.Remove(cur); err != nil {
		t.Fatal(err)
	}
	if got, err := CheckpointDir(dir); err != nil || got != tmp {
		t.Errorf("CheckpointDir = %q, %v; want ckpt.tmp, the newest complete checkpoint", got, err)
	}
	if err := NewRunFolder(dir); err == nil || !strings.Contains(err.Error(), "holds a run") {
		t.Errorf("NewRunFolder on a folder whose checkpoint is in ckpt.tmp: %v; want 'holds a run'", err)
	}
	if err := os.RemoveAll(old); err != nil { // only ckpt.tmp left
		t.Fatal(err)
	}
	r = resumeFrom(t, dir)
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	if got, err := CheckpointDir(dir); err != nil || got != cur {
		t.Errorf("after the next save, CheckpointDir = %q, %v; want ckpt", got, err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("ckpt.tmp left after a save: %v", err)
	}
}

// TestTornMetricsLine: a last line cut short by a kill (no newline after
// it) is dropped; a malformed line before it is still an error.
func TestTornMetricsLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	os.WriteFile(path, []byte(`{"step":1,"loss":2}`+"\n"+`{"step":2,"loss":1.5}`+"\n"+`{"step":3,"lo`), 0o644)
	ms, err := readMetrics(path, 10)
	if err != nil || len(ms) != 2 || ms[1].Step != 2 {
		t.Errorf("readMetrics with a torn last line = %v, %v; want steps 1 and 2", ms, err)
	}
	os.WriteFile(path, []byte(`{"step":1,"loss":2}`+"\n"+`{"step":2,"lo`+"\n"+`{"step":3,"loss":1}`+"\n"), 0o644)
	if _, err := readMetrics(path, 10); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("readMetrics with a malformed line 2 = %v; want an error naming line 2", err)
	}
}
