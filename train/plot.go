package train

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one named line of a plot.
type Series struct {
	Name  string
	X, Y  []float64
	Color color.RGBA
}

// Plot is a line chart of loss curves, drawn as SVG or PNG with no
// dependencies beyond a bitmap font.
type Plot struct {
	Title, XLabel, YLabel string
	Series                []Series
}

const (
	plotW, plotH           = 800, 450
	padL, padR, padT, padB = 64, 20, 36, 48
	innerW, innerH         = plotW - padL - padR, plotH - padT - padB
	tickCount              = 5
	svgFont                = `font-family="sans-serif" font-size="12"`
	legendRow              = 16
	legendX                = plotW - padR - 150
	legendY                = padT + 8
	pointsMax              = 2000 // longer series are thinned
	gridGray, axisGray     = 0xe6, 0x99
	textBlack              = 0x22
	strokePX               = 2
	minSpan                = 1e-9
	ySlack                 = 0.05 // margin above and below the data
)

// Colors for the train and validation curves.
var (
	TrainColor = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	ValColor   = color.RGBA{0xd6, 0x27, 0x28, 0xff}
)

// bounds returns the data ranges over all series.
func (p *Plot) bounds() (x0, x1, y0, y1 float64) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, s := range p.Series {
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			x0, x1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i])
			y0, y1 = math.Min(y0, s.Y[i]), math.Max(y1, s.Y[i])
		}
	}
	if math.IsInf(x0, 1) {
		return 0, 1, 0, 1
	}
	if x1-x0 < minSpan {
		x1 = x0 + 1
	}
	if y1-y0 < minSpan {
		y1 = y0 + 1
	}
	pad := (y1 - y0) * ySlack
	return x0, x1, y0 - pad, y1 + pad
}

// pixel maps a data point to image coordinates.
func pixel(x, y, x0, x1, y0, y1 float64) (float64, float64) {
	return padL + (x-x0)/(x1-x0)*innerW, padT + (1-(y-y0)/(y1-y0))*innerH
}

// thin keeps at most pointsMax points of a long series (every k-th).
func thin(s Series) Series {
	if len(s.X) <= pointsMax {
		return s
	}
	k := (len(s.X) + pointsMax - 1) / pointsMax
	out := Series{Name: s.Name, Color: s.Color}
	for i := 0; i < len(s.X); i += k {
		out.X, out.Y = append(out.X, s.X[i]), append(out.Y, s.Y[i])
	}
	return out
}

func tickLabel(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// SVG renders the plot as an SVG document.
func (p *Plot) SVG() []byte {
	x0, x1, y0, y1 := p.bounds()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i := 0; i <= tickCount; i++ {
		xv, yv := x0+(x1-x0)*float64(i)/tickCount, y0+(y1-y0)*float64(i)/tickCount
		px, _ := pixel(xv, y0, x0, x1, y0, y1)
		_, py := pixel(x0, yv, x0, x1, y0, y1)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e6e6e6"/>`+"\n", px, padT, px, padT+innerH)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e6e6e6"/>`+"\n", padL, py, padL+innerW, py)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" %s>%s</text>`+"\n", px, padT+innerH+16, svgFont, tickLabel(xv))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" %s>%s</text>`+"\n", padL-6, py+4, svgFont, tickLabel(yv))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", padL, padT, innerW, innerH)
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-family="sans-serif" font-size="15">%s</text>`+"\n", plotW/2, escape(p.Title))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" %s>%s</text>`+"\n", padL+innerW/2, plotH-10, svgFont, escape(p.XLabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)" %s>%s</text>`+"\n", padT+innerH/2, padT+innerH/2, svgFont, escape(p.YLabel))
	for i, s := range p.Series {
		s = thin(s)
		col := fmt.Sprintf("#%02x%02x%02x", s.Color.R, s.Color.G, s.Color.B)
		b.WriteString(`<polyline fill="none" stroke-width="2" stroke="` + col + `" points="`)
		for j := range s.X {
			px, py := pixel(s.X[j], s.Y[j], x0, x1, y0, y1)
			fmt.Fprintf(&b, "%.1f,%.1f ", px, py)
		}
		b.WriteString("\"/>\n")
		ly := legendY + i*legendRow
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", legendX, ly+6, legendX+20, ly+6, col)
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`+"\n", legendX+26, ly+10, svgFont, escape(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func escape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PNG renders the plot as a PNG image.
func (p *Plot) PNG() ([]byte, error) {
	x0, x1, y0, y1 := p.bounds()
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	grid := color.RGBA{gridGray, gridGray, gridGray, 0xff}
	axis := color.RGBA{axisGray, axisGray, axisGray, 0xff}
	ink := color.RGBA{textBlack, textBlack, textBlack, 0xff}
	for i := 0; i <= tickCount; i++ {
		xv, yv := x0+(x1-x0)*float64(i)/tickCount, y0+(y1-y0)*float64(i)/tickCount
		px, _ := pixel(xv, y0, x0, x1, y0, y1)
		_, py := pixel(x0, yv, x0, x1, y0, y1)
		line(img, px, padT, px, padT+innerH, 1, grid)
		line(img, padL, py, padL+innerW, py, 1, grid)
		lbl := tickLabel(xv)
		text(img, int(px)-len(lbl)*7/2, padT+innerH+16, lbl, ink)
		lbl = tickLabel(yv)
		text(img, padL-6-len(lbl)*7, int(py)+4, lbl, ink)
	}
	for _, seg := range [][4]float64{{padL, padT, padL + innerW, padT}, {padL, padT + innerH, padL + innerW, padT + innerH}, {padL, padT, padL, padT + innerH}, {padL + innerW, padT, padL + innerW, padT + innerH}} {
		line(img, seg[0], seg[1], seg[2], seg[3], 1, axis)
	}
	text(img, plotW/2-len(p.Title)*7/2, 22, p.Title, ink)
	text(img, padL+innerW/2-len(p.XLabel)*7/2, plotH-10, p.XLabel, ink)
	text(img, 4, padT-8, p.YLabel, ink)
	for i, s := range p.Series {
		s = thin(s)
		for j := 1; j < len(s.X); j++ {
			ax, ay := pixel(s.X[j-1], s.Y[j-1], x0, x1, y0, y1)
			bx, by := pixel(s.X[j], s.Y[j], x0, x1, y0, y1)
			line(img, ax, ay, bx, by, strokePX, s.Color)
		}
		if len(s.X) == 1 {
			px, py := pixel(s.X[0], s.Y[0], x0, x1, y0, y1)
			line(img, px-2, py, px+2, py, 4, s.Color)
		}
		ly := float64(legendY + i*legendRow)
		line(img, legendX, ly+6, legendX+20, ly+6, 3, s.Color)
		text(img, legendX+26, int(ly)+10, s.Name, ink)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// line draws a segment of the given width by stepping along its longer axis.
func line(img *image.RGBA, x0, y0, x1, y1 float64, width int, c color.RGBA) {
	n := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+(x1-x0)*t)), int(math.Round(y0+(y1-y0)*t))
		for dx := 0; dx < width; dx++ {
			for dy := 0; dy < width; dy++ {
				img.SetRGBA(x+dx-width/2, y+dy-width/2, c)
			}
		}
	}
}

// text draws s with its baseline at (x, y) in a 7×13 bitmap font.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
