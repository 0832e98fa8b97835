package data

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/attn-go/attn/tensor"
)

// Image is one labelled image: a file, decoded when needed, or an image
// held in memory (Img set).
type Image struct {
	Path  string
	Img   image.Image
	Label int
}

// imageExts are the file types ImageFolder lists (those Go decodes).
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif"}

// ImageFolder lists a folder of labelled images in the layout torchvision's
// ImageFolder and HuggingFace's imagefolder read: one subfolder per label,
// named after it, holding that label's PNG, JPEG or GIF files. If dir has
// "train" and "val" (or "validation", or "test") subfolders, those are the
// two splits, with the labels of train; otherwise every tenth image of each
// label (in name order) is held out for validation. Labels are the
// subfolder names, sorted.
func ImageFolder(dir string) (train, val []Image, labels []string, err error) {
	for _, name := range []string{"val", "validation", "test"} {
		if isDir(filepath.Join(dir, "train")) && isDir(filepath.Join(dir, name)) {
			train, labels, err = ListImages(filepath.Join(dir, "train"), nil)
			if err != nil {
				return nil, nil, nil, err
			}
			val, _, err = ListImages(filepath.Join(dir, name), labels)
			return train, val, labels, err
		}
	}
	all, labels, err := ListImages(dir, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	seen := map[int]int{}
	for _, im := range all {
		if seen[im.Label]%10 == 9 {
			val = append(val, im)
		} else {
			train = append(train, im)
		}
		seen[im.Label]++
	}
	if len(val) == 0 {
		return nil, nil, nil, fmt.Errorf("data: %s: too few images to hold out every tenth for validation (%d); add a val/ folder", dir, len(all))
	}
	return train, val, labels, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// ListImages lists dir/<label>/<image> (PNG, JPEG and GIF files; hidden
// folders and files, named with a leading dot, are skipped). Without
// labels, the subfolders (two or more) are the labels, sorted by name; with
// labels given (a validation split, or a trained classifier's), every
// subfolder must be one of them, and an image's Label is its index there.
func ListImages(dir string, labels []string) ([]Image, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") { // .ipynb_checkpoints and the like are no labels
			found = append(found, e.Name())
		}
	}
	if len(found) == 0 {
		return nil, nil, fmt.Errorf("data: %s has no label subfolders (want %s/<label>/<image>)", dir, dir)
	}
	if labels == nil {
		if len(found) < 2 {
			return nil, nil, fmt.Errorf("data: %s has one label subfolder (%s); a classifier needs two or more", dir, found[0])
		}
		labels = found // os.ReadDir sorts by name
	}
	var out []Image
	for _, name := range found {
		label := slices.Index(labels, name)
		if label < 0 {
			return nil, nil, fmt.Errorf("data: %s: label %q is not among the training labels %v", dir, name, labels)
		}
		files, err := os.ReadDir(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, fmt.Errorf("data: %w", err)
		}
		n := 0
		for _, f := range files {
			if !f.IsDir() && !strings.HasPrefix(f.Name(), ".") && slices.Contains(imageExts, strings.ToLower(filepath.Ext(f.Name()))) {
				out = append(out, Image{Path: filepath.Join(dir, name, f.Name()), Label: label})
				n++
			}
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("data: %s has no PNG, JPEG or GIF files", filepath.Join(dir, name))
		}
	}
	return out, labels, nil
}

// DigitLabels names the classes of Digits.
var DigitLabels = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// digitStrokes are the pen strokes of each digit in a unit box (x to the
// right, y down); an ellipse is written as {cx, cy, rx, ry} with a
// negative first entry (see strokes).
var digitStrokes = [10][][]float64{
	{{-1, 0.5, 0.5, 0.28, 0.4}},
	{{0.33, 0.25, 0.55, 0.08, 0.55, 0.92}},
	{{0.22, 0.3, 0.3, 0.14, 0.5, 0.08, 0.7, 0.14, 0.76, 0.3, 0.7, 0.45, 0.22, 0.92, 0.8, 0.92}},
	{{0.22, 0.15, 0.5, 0.08, 0.75, 0.2, 0.72, 0.38, 0.45, 0.48, 0.75, 0.58, 0.78, 0.78, 0.55, 0.92, 0.22, 0.85}},
	{{0.65, 0.92, 0.65, 0.08, 0.2, 0.65, 0.85, 0.65}},
	{{0.78, 0.08, 0.3, 0.08, 0.26, 0.45, 0.55, 0.4, 0.76, 0.55, 0.76, 0.78, 0.55, 0.92, 0.24, 0.86}},
	{{0.7, 0.1, 0.45, 0.12, 0.28, 0.35, 0.25, 0.65, 0.35, 0.88, 0.6, 0.9, 0.75, 0.72, 0.65, 0.52, 0.42, 0.5, 0.27, 0.62}},
	{{0.2, 0.08, 0.8, 0.08, 0.42, 0.92}},
	{{-1, 0.5, 0.29, 0.22, 0.2}, {-1, 0.5, 0.7, 0.27, 0.22}},
	{{-1, 0.5, 0.32, 0.24, 0.22}, {0.74, 0.32, 0.68, 0.92}},
}

// strokes returns digit d's strokes as polylines (ellipses as 24 points).
func strokes(d int) [][]float64 {
	var out [][]float64
	for _, s := range digitStrokes[d] {
		if s[0] >= 0 {
			out = append(out, s)
			continue
		}
		cx, cy, rx, ry := s[1], s[2], s[3], s[4]
		var pts []float64
		for i := 0; i <= 24; i++ {
			a := 2 * math.Pi * float64(i) / 24
			pts = append(pts, cx+rx*math.Sin(a), cy-ry*math.Cos(a))
		}
		out = append(out, pts)
	}
	return out
}

// Digits draws n images of handwriting-like digits, size×size grey pixels,
// light on dark as MNIST's: image i shows digit i mod 10, its pen strokes
// jittered and put through a random rotation, slant, scale and shift, with
// a random pen width, background noise and, in half of them, a stray mark. The same seed gives the same
// images. It is the data set of `attn train --preset digits`: a vision
// task that needs no download.
func Digits(n, size int, seed uint64) []Image {
	out := make([]Image, n)
	tensor.ParallelFor(n, func(i int) {
		// Each image's generator starts from a hash of (seed, i): seeds a
		// multiple of the generator's increment apart would give one stream,
		// shifted.
		rng := tensor.NewRNG(tensor.Mix64(seed ^ tensor.Mix64(uint64(i)+1)))
		out[i] = Image{Img: drawDigit(i%10, size, rng), Label: i % 10}
	})
	return out
}

func drawDigit(d, size int, rng *tensor.RNG) *image.Gray {
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	rot, slant, scale := u(-0.25, 0.25), u(-0.3, 0.3), u(0.65, 0.9)
	sx := scale * u(0.85, 1.1)
	dx, dy := u(-0.08, 0.08), u(-0.08, 0.08)
	width := u(0.045, 0.085)
	cos, sin := math.Cos(rot), math.Sin(rot)
	// Map a stroke point of the unit box to image coordinates in [0, 1]².
	tr := func(x, y float64) (float64, float64) {
		x, y = x-0.5+u(-0.02, 0.02), y-0.5+u(-0.02, 0.02)
		x += slant * y
		x, y = x*sx, y*scale
		return 0.5 + dx + cos*x - sin*y, 0.5 + dy + sin*x + cos*y
	}
	var segs [][4]float64
	for _, s := range strokes(d) {
		px, py := tr(s[0], s[1])
		for k := 2; k+1 < len(s); k += 2 {
			x, y := tr(s[k], s[k+1])
			segs = append(segs, [4]float64{px, py, x, y})
			px, py = x, y
		}
	}
	if rng.Float64() < 0.5 { // a stray pen mark, as scanned digits have
		x, y := u(0, 1), u(0, 1)
		a, l := u(0, math.Pi), u(0.1, 0.3)
		segs = append(segs, [4]float64{x, y, x + l*math.Cos(a), y + l*math.Sin(a)})
	}
	img := image.NewGray(image.Rect(0, 0, size, size))
	soft := 0.7 / float64(size) // about one pixel of anti-aliasing
	for yy := range size {
		for xx := range size {
			x, y := (float64(xx)+0.5)/float64(size), (float64(yy)+0.5)/float64(size)
			dist := math.Inf(1)
			for _, sg := range segs {
				dist = min(dist, segDist(x, y, sg))
			}
			v := math.Min(1, math.Max(0, (width/2-dist)/soft+0.5))
			v = math.Min(1, math.Max(0, v*u(0.85, 1)+u(0, 0.12)))
			img.SetGray(xx, yy, color.Gray{uint8(255*v + 0.5)})
		}
	}
	return img
}

// segDist is the distance from (x, y) to the segment s.
func segDist(x, y float64, s [4]float64) float64 {
	vx, vy := s[2]-s[0], s[3]-s[1]
	wx, wy := x-s[0], y-s[1]
	t := 0.0
	if l := vx*vx + vy*vy; l > 0 {
		t = math.Min(1, math.Max(0, (wx*vx+wy*vy)/l))
	}
	return math.Hypot(wx-t*vx, wy-t*vy)
}
