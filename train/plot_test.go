package train

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"
)

func TestPlotRendersBothFormats(t *testing.T) {
	var tr, va Series
	tr.Name, tr.Color, va.Name, va.Color = "train", TrainColor, "val", ValColor
	for i := 1; i <= 300; i++ {
		tr.X, tr.Y = append(tr.X, float64(i)), append(tr.Y, 4/math.Sqrt(float64(i)))
		if i%50 == 0 {
			va.X, va.Y = append(va.X, float64(i)), append(va.Y, 4.2/math.Sqrt(float64(i)))
		}
	}
	p := &Plot{Title: "loss <test>", XLabel: "step", YLabel: "loss", Series: []Series{tr, va}}
	svg := string(p.SVG())
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, "loss &lt;test&gt;") {
		t.Errorf("SVG lacks its two curves or escaped title:\n%.300s", svg)
	}
	b, err := p.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// Some pixels must carry each curve's colour.
	found := map[[3]uint32]bool{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			found[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	for _, c := range []Series{tr, va} {
		if !found[[3]uint32{uint32(c.Color.R), uint32(c.Color.G), uint32(c.Color.B)}] {
			t.Errorf("PNG has no pixel of the %s curve's colour", c.Name)
		}
	}
}
