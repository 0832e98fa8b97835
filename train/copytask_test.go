package train

import (
	"context"
	"os"
	"testing"
)

// TestCopyAndReverseTasksAreLearned is the proof that the whole stack
// learns: an encoder-decoder trained from scratch copies (and reverses)
// random sequences of 10 symbols out of 20, decoded greedily.
func TestCopyAndReverseTasksAreLearned(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models; skipped with -short")
	}
	for _, reverse := range []bool{false, true} {
		c := DefaultCopyTask()
		c.Task.Reverse = reverse
		if testing.Verbose() {
			c.Log = os.Stderr
		}
		m, err := TrainCopyTask(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := CopyTaskAccuracy(m, c.Task, 500, 12345)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("reverse=%v: exact-sequence accuracy %.1f%% on 500 fresh sequences", reverse, 100*acc)
		if acc < 0.99 {
			t.Errorf("reverse=%v: exact-sequence accuracy %.3f; want >= 0.99", reverse, acc)
		}
	}
}
