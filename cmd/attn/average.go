package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/attn-go/attn/train"
)

// runAverage averages the weights of model folders (the paper averages the
// last 5 checkpoints) or of a run's snapshots.
func runAverage(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn average", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder for the averaged model (required)")
	run := fs.String("run", "", "average the last --last snapshots of this run folder instead of listed folders")
	last := fs.Int("last", 5, "with --run: how many of the newest snapshots")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	dirs := fs.Args()
	if *run != "" {
		snaps, err := train.Snapshots(*run)
		if err != nil {
			return fmt.Errorf("%s has no snapshots (train with snapshots on): %w", *run, err)
		}
		dirs = snaps[max(0, len(snaps)-*last):]
	}
	if len(dirs) == 0 {
		return errors.New("no model folders to average (list them, or use --run)")
	}
	if err := train.AverageCheckpoints(*out, dirs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "averaged %d checkpoints into %s\n", len(dirs), *out)
	return nil
}
