package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress shows training progress: on a terminal, one bar redrawn in place
// (step/total, loss, learning rate, tokens/s, ETA); otherwise a plain log
// line every Every steps, so logs piped to a file stay readable.
type Progress struct {
	W     io.Writer
	TTY   bool
	Total int
	Every int // for plain output; 0 means Total/20
	// Unit names what the job's "tokens" are in the rate ("tok", the
	// default; "img" for images).
	Unit string

	start     time.Time
	startStep int
	smooth    float64 // exponential moving average of the loss
	tokRate   float64
	drawn     bool
}

func (p *Progress) unit() string {
	if p.Unit == "" {
		return "tok"
	}
	return p.Unit
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update reports a finished step.
func (p *Progress) Update(st Stats) {
	if p.start.IsZero() {
		p.start, p.startStep = time.Now(), st.Step-1
		p.smooth = st.Loss
		p.tokRate = st.TokensPerSec
	}
	p.smooth = 0.9*p.smooth + 0.1*st.Loss
	p.tokRate = 0.9*p.tokRate + 0.1*st.TokensPerSec
	done := st.Step - p.startStep
	eta := time.Duration(float64(time.Since(p.start)) / float64(max(done, 1)) * float64(p.Total-st.Step))
	if p.TTY {
		const width = 24
		filled := width * st.Step / max(p.Total, 1)
		bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
		fmt.Fprintf(p.W, "\r\x1b[K%s %d/%d  loss %.4f  lr %.2e  %s %s/s  ETA %s", bar, st.Step, p.Total, p.smooth, st.LR, humanRate(p.tokRate), p.unit(), eta.Round(time.Second))
		p.drawn = true
		return
	}
	every := p.Every
	if every <= 0 {
		every = max(1, p.Total/20)
	}
	if st.Step%every == 0 || st.Step == p.Total {
		fmt.Fprintf(p.W, "step %d/%d  loss %.4f  lr %.2e  %s %s/s  elapsed %s  ETA %s\n", st.Step, p.Total, p.smooth, st.LR, humanRate(p.tokRate), p.unit(), time.Since(p.start).Round(time.Second), eta.Round(time.Second))
	}
}

// Println prints a line of its own (an evaluation result, say) without
// breaking the bar.
func (p *Progress) Println(a ...any) {
	if p.TTY && p.drawn {
		fmt.Fprint(p.W, "\r\x1b[K")
	}
	fmt.Fprintln(p.W, a...)
}

// Done ends the bar's line.
func (p *Progress) Done() {
	if p.TTY && p.drawn {
		fmt.Fprintln(p.W)
		p.drawn = false
	}
}

func humanRate(r float64) string {
	if r >= 1e4 {
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}
