package vit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // image.Decode reads GIF, JPEG and PNG files
	_ "image/jpeg"
	_ "image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/internal/atomicfile"
	"github.com/attn-go/attn/tensor"
)

// ProcessorFile is the image processor's settings in a model folder.
const ProcessorFile = "preprocessor_config.json"

// Processor turns images into a model's input as HuggingFace's
// ViTImageProcessor and DeiTImageProcessor do (their
// preprocessor_config.json): convert to RGB, resize with Pillow's filter,
// crop the centre (DeiT), rescale to [0, 1], normalise per channel.
type Processor struct {
	DoResize bool `json:"do_resize"`
	Size     Size `json:"size"`
	// Resample is Pillow's filter number: 1 Lanczos, 2 bilinear, 3 bicubic,
	// 4 box, 5 Hamming (0, nearest, is not supported).
	Resample      int       `json:"resample"`
	DoRescale     bool      `json:"do_rescale"`
	RescaleFactor float64   `json:"rescale_factor"`
	DoNormalize   bool      `json:"do_normalize"`
	Mean          []float32 `json:"image_mean"`
	Std           []float32 `json:"image_std"`
	// DoCenterCrop cuts CropSize out of the middle of the resized image
	// (DeiTImageProcessor's step; ViT's processor has none).
	DoCenterCrop bool  `json:"do_center_crop,omitempty"`
	CropSize     *Size `json:"crop_size,omitempty"`
	// Type is the HF class Save names (image_processor_type): the file's,
	// or, when empty, the one its settings imply.
	Type string `json:"-"`
}

// Size is the processor's output size: {"height": H, "width": W}, or a
// single number for square images in older files; or, for CLIP's
// processor, {"shortest_edge": S}: the image scaled so that its shorter
// side is S.
type Size struct{ Height, Width, ShortestEdge int }

// UnmarshalJSON reads {"height", "width"}, {"shortest_edge"} or a number.
func (s *Size) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*s = Size{Height: n, Width: n}
		return nil
	}
	var v map[string]int
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("size %s is neither a number nor {\"height\", \"width\"}", b)
	}
	if e, ok := v["shortest_edge"]; ok && len(v) == 1 {
		if e <= 0 {
			return fmt.Errorf("size %s: the shortest edge must be positive", b)
		}
		*s = Size{ShortestEdge: e}
		return nil
	}
	h, okH := v["height"]
	w, okW := v["width"]
	if !okH || !okW || len(v) != 2 {
		return fmt.Errorf("size %s: want {\"height\", \"width\"} or {\"shortest_edge\"}", b)
	}
	*s = Size{Height: h, Width: w}
	return nil
}

// MarshalJSON writes {"height", "width"} or {"shortest_edge"}.
func (s Size) MarshalJSON() ([]byte, error) {
	if s.ShortestEdge > 0 {
		return json.Marshal(map[string]int{"shortest_edge": s.ShortestEdge})
	}
	return json.Marshal(map[string]int{"height": s.Height, "width": s.Width})
}

// resized returns the size a w×h image is resized to: Size, or with
// ShortestEdge the shorter side S and the longer int(S·long/short), as HF's
// get_resize_output_image_size computes it (default_to_square False).
func (s Size) resized(w, h int) (int, int) {
	if s.ShortestEdge <= 0 {
		return s.Width, s.Height
	}
	short, long := min(w, h), max(w, h)
	l := int(float64(s.ShortestEdge*long) / float64(short))
	if w <= h {
		return s.ShortestEdge, l
	}
	return l, s.ShortestEdge
}

// DefaultProcessor returns ViTImageProcessor's defaults for a model of c:
// bilinear resize to the model's image size, rescale by 1/255, normalise
// with mean and std 0.5.
func DefaultProcessor(c Config) Processor {
	return Processor{
		DoResize: true, Size: Size{Height: c.ImageSize, Width: c.ImageSize}, Resample: 2,
		DoRescale: true, RescaleFactor: 1.0 / 255,
		DoNormalize: true, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5},
	}
}

// deitProcessor returns DeiTImageProcessor's defaults: bicubic resize to
// 256, a 224 centre crop, ImageNet's mean and standard deviation.
func deitProcessor() Processor {
	return Processor{
		DoResize: true, Size: Size{Height: 256, Width: 256}, Resample: 3,
		DoCenterCrop: true, CropSize: &Size{Height: 224, Width: 224},
		DoRescale: true, RescaleFactor: 1.0 / 255,
		DoNormalize: true, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225},
	}
}

// CLIPProcessor returns CLIPImageProcessor's defaults for images of
// size×size: bicubic resize of the shorter side to size, a size×size
// centre crop, CLIP's mean and standard deviation. (HF's defaults are for
// 224; a folder's file names its own.)
func CLIPProcessor(size int) Processor {
	return Processor{
		DoResize: true, Size: Size{ShortestEdge: size}, Resample: 3,
		DoCenterCrop: true, CropSize: &Size{Height: size, Width: size},
		DoRescale: true, RescaleFactor: 1.0 / 255,
		DoNormalize: true, Mean: []float32{0.48145466, 0.4578275, 0.40821073}, Std: []float32{0.26862954, 0.26130258, 0.27577711},
	}
}

// LoadProcessor reads dir/preprocessor_config.json; missing keys take the
// defaults of the processor it names (DeiTImageProcessor's, or
// DefaultProcessor(c)'s for ViT's), and a missing file DefaultProcessor(c).
func LoadProcessor(dir string, c Config) (Processor, error) {
	return LoadProcessorOf(dir, DefaultProcessor(c), c)
}

// LoadProcessorOf is LoadProcessor with def as the defaults (those of a
// DeiTImageProcessor when the file names one), for a model taking images
// as c says (its ImageSize and Channels).
func LoadProcessorOf(dir string, def Processor, c Config) (Processor, error) {
	p := def
	path := filepath.Join(dir, ProcessorFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("vit: %w", err)
	}
	var kind struct {
		Processor        string          `json:"image_processor_type"`
		FeatureExtractor string          `json:"feature_extractor_type"`
		Size             json.RawMessage `json:"size"`
	}
	json.Unmarshal(raw, &kind)
	if strings.HasPrefix(kind.Processor+kind.FeatureExtractor, "DeiT") {
		p = deitProcessor()
	}
	if kind.Processor != "" {
		p.Type = kind.Processor
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("vit: %s: %w", path, err)
	}
	// CLIP's processor reads a number as the shortest edge (HF's get_size_dict
	// with default_to_square false: the old CLIPFeatureExtractor files of
	// openai/clip-vit-* say "size": 224).
	var n int
	if strings.HasPrefix(kind.Processor+kind.FeatureExtractor, "CLIP") && json.Unmarshal(kind.Size, &n) == nil {
		if n <= 0 {
			return p, fmt.Errorf("vit: %s: size %d: the shortest edge must be positive", path, n)
		}
		p.Size = Size{ShortestEdge: n}
	}
	if err := p.Validate(c); err != nil {
		return p, fmt.Errorf("vit: %s: %w", path, err)
	}
	return p, nil
}

// out returns the size of the processor's output: the crop, or the resize.
func (p Processor) out() Size {
	if p.DoCenterCrop && p.CropSize != nil {
		return *p.CropSize
	}
	return p.Size
}

// Validate reports a setting that would not give c's input.
func (p Processor) Validate(c Config) error {
	switch {
	case p.DoCenterCrop && p.CropSize == nil:
		return errors.New("do_center_crop without a crop_size")
	case p.Size.ShortestEdge > 0 && !p.DoCenterCrop:
		return errors.New("size shortest_edge without a centre crop gives images of many sizes")
	case p.Size.ShortestEdge > 0 && p.DoResize && (p.CropSize.Height > p.Size.ShortestEdge || p.CropSize.Width > p.Size.ShortestEdge):
		return fmt.Errorf("crop_size %d×%d is larger than the shortest edge %d", p.CropSize.Height, p.CropSize.Width, p.Size.ShortestEdge)
	case p.Size.ShortestEdge == 0 && p.DoCenterCrop && p.DoResize && (p.CropSize.Height > p.Size.Height || p.CropSize.Width > p.Size.Width):
		return fmt.Errorf("crop_size %d×%d is larger than the resized %d×%d", p.CropSize.Height, p.CropSize.Width, p.Size.Height, p.Size.Width)
	case p.out().Height != c.ImageSize || p.out().Width != c.ImageSize:
		return fmt.Errorf("size %d×%d differs from the model's image_size %d", p.out().Height, p.out().Width, c.ImageSize)
	case p.DoResize && filters[p.Resample].fn == nil:
		return fmt.Errorf("resample %d is not supported (want 1 Lanczos, 2 bilinear, 3 bicubic, 4 box or 5 Hamming)", p.Resample)
	case p.DoNormalize && (len(p.Mean) != 3 || len(p.Std) != 3):
		return fmt.Errorf("image_mean %v and image_std %v must have one value per RGB channel", p.Mean, p.Std)
	case c.Channels != 3:
		return fmt.Errorf("the model takes %d channels; images are RGB", c.Channels)
	}
	for _, s := range p.Std {
		if !(s > 0) && p.DoNormalize {
			return fmt.Errorf("image_std %v must be positive", p.Std)
		}
	}
	return nil
}

// SaveProcessor writes p to dir/preprocessor_config.json, as
// ViTImageProcessor's (DeiTImageProcessor's, with a crop;
// CLIPImageProcessor's, with a shortest edge) save_pretrained does.
func SaveProcessor(dir string, p Processor) error {
	typ := "ViTImageProcessor"
	switch {
	case p.Type != "":
		typ = p.Type
	case p.Size.ShortestEdge > 0:
		typ = "CLIPImageProcessor"
	case p.DoCenterCrop:
		typ = "DeiTImageProcessor"
	}
	raw, err := json.MarshalIndent(struct {
		Type string `json:"image_processor_type"`
		Processor
	}{typ, p}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ProcessorFile), append(raw, '\n'))
}

// MaxPixels bounds the images DecodeImage accepts (width × height), so
// that a small file claiming a huge size cannot take the memory.
const MaxPixels = 64 << 20

// ReadImage decodes a PNG, JPEG or GIF file (see DecodeImage); errors
// name the file.
func ReadImage(path string) (image.Image, error) {
	img, err := DecodeFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// DecodeFile is ReadImage without the file's name in its errors.
func DecodeFile(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeImage(data)
}

// DecodeImage decodes a PNG, JPEG or GIF image (a GIF's first frame) of at
// most MaxPixels pixels, turned upright by its EXIF orientation as HF's
// load_image turns it (phone cameras record one on most pictures).
func DecodeImage(data []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w (PNG, JPEG and GIF are read)", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxPixels {
		return nil, fmt.Errorf("the image has %d×%d pixels (at most %d are read)", cfg.Width, cfg.Height, MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decoding the image: %w", err)
	}
	if o := exifOrientation(data); o != 1 {
		return &oriented{img, o}, nil
	}
	return img, nil
}

// Pixels returns img as the model's input [3, H, W], channels first.
// Without resizing the image must already have the model's size.
//
// The result equals HF's pipeline (load_image's convert("RGB"), then the
// processor) bit for bit when the decoded pixels are Pillow's: 8-bit PNG
// and GIF decode the same everywhere (16-bit grey is clipped as Pillow
// clips it, 16-bit colour keeps the high byte as Pillow does; 16-bit grey
// with a transparent colour, and GIFs with a transparent colour or whose
// first frame does not cover the screen, still differ from Pillow: Go's
// decoder blanks the transparent colour and crops to the frame, Pillow
// keeps the colour and fills the screen with it or colour 0), and EXIF
// orientations are applied;
// JPEG's colours are upsampled and converted as
// libjpeg does (jpegRGB), but Go's inverse DCT rounds its own way, so a few
// percent of the values differ, by 0.05 levels on average in the tests.
func (p Processor) Pixels(img image.Image) ([]float32, error) {
	rgb, w, h := toRGB(img)
	if w == 0 || h == 0 {
		return nil, errors.New("vit: the image is empty")
	}
	if ow, oh := p.Size.resized(w, h); p.DoResize && (w != ow || h != oh) {
		if ow*oh > MaxPixels { // a thin image's shortest edge scaled up
			return nil, fmt.Errorf("vit: resizing the %d×%d image to %d×%d would exceed %d pixels", w, h, ow, oh, MaxPixels)
		}
		f := filters[p.Resample]
		if f.fn == nil {
			return nil, fmt.Errorf("vit: resample %d is not supported", p.Resample)
		}
		rgb, w, h = resize(rgb, w, h, ow, oh, f)
	}
	if p.DoCenterCrop {
		cw, ch := p.CropSize.Width, p.CropSize.Height
		if cw > w || ch > h {
			return nil, fmt.Errorf("vit: the image is %d×%d, smaller than the crop %d×%d", w, h, cw, ch)
		}
		rgb, w, h = crop(rgb, w, (w-cw)/2, (h-ch)/2, cw, ch), cw, ch
	}
	if o := p.out(); w != o.Width || h != o.Height {
		return nil, fmt.Errorf("vit: the image is %d×%d and resizing is off; the model takes %d×%d", w, h, o.Width, o.Height)
	}
	return p.normalize(rgb, w, h), nil
}

// Augmented returns img as a training input, randomly varied as HF's
// image-classification example trains (torchvision's RandomResizedCrop and
// RandomHorizontalFlip): a crop of 8% to 100% of the image's area with an
// aspect ratio from 3/4 to 4/3 at a random place, resized to the model's
// size with the processor's filter, mirrored with probability ½, then
// rescaled and normalised as Pixels does. The same rng state gives the same
// variation.
func (p Processor) Augmented(img image.Image, rng *tensor.RNG) ([]float32, error) {
	rgb, w, h := toRGB(img)
	if w == 0 || h == 0 {
		return nil, errors.New("vit: the image is empty")
	}
	f := filters[p.Resample]
	if f.fn == nil {
		return nil, fmt.Errorf("vit: resample %d is not supported", p.Resample)
	}
	x0, y0, cw, ch := randomCrop(w, h, rng)
	rgb = crop(rgb, w, x0, y0, cw, ch)
	o := p.out()
	rgb, w, h = resize(rgb, cw, ch, o.Width, o.Height, f)
	if rng.Float64() < 0.5 {
		for y := range h {
			row := rgb[3*w*y : 3*w*(y+1)]
			for a, b := 0, w-1; a < b; a, b = a+1, b-1 {
				row[3*a], row[3*b] = row[3*b], row[3*a]
				row[3*a+1], row[3*b+1] = row[3*b+1], row[3*a+1]
				row[3*a+2], row[3*b+2] = row[3*b+2], row[3*a+2]
			}
		}
	}
	return p.normalize(rgb, w, h), nil
}

// randomCrop picks RandomResizedCrop's region of a w×h image: up to ten
// tries at a random area (8–100%) and log-uniform aspect ratio (3/4–4/3)
// that fit, else the largest centred crop of an allowed aspect ratio.
func randomCrop(w, h int, rng *tensor.RNG) (x0, y0, cw, ch int) {
	area := float64(w * h)
	lo, hi := math.Log(3.0/4), math.Log(4.0/3)
	for range 10 {
		a := area * (0.08 + 0.92*rng.Float64())
		r := math.Exp(lo + (hi-lo)*rng.Float64())
		cw, ch = int(math.Round(math.Sqrt(a*r))), int(math.Round(math.Sqrt(a/r)))
		if cw > 0 && ch > 0 && cw <= w && ch <= h {
			return rng.Intn(w - cw + 1), rng.Intn(h - ch + 1), cw, ch
		}
	}
	switch r := float64(w) / float64(h); {
	case r < 3.0/4:
		cw, ch = w, int(math.Round(float64(w)/(3.0/4)))
	case r > 4.0/3:
		cw, ch = int(math.Round(float64(h)*4.0/3)), h
	default:
		cw, ch = w, h
	}
	cw, ch = min(max(cw, 1), w), min(max(ch, 1), h)
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

// normalize rescales and normalises 8-bit RGB pixels into the model's
// input, channels first.
func (p Processor) normalize(rgb []uint8, w, h int) []float32 {
	out := make([]float32, 3*w*h)
	for c := range 3 {
		plane := out[c*w*h : (c+1)*w*h]
		for i := range plane {
			// As HF: rescale in float64, then float32 arithmetic.
			x := float32(rgb[3*i+c])
			if p.DoRescale {
				x = float32(float64(rgb[3*i+c]) * p.RescaleFactor)
			}
			if p.DoNormalize {
				x = (x - p.Mean[c]) / p.Std[c]
			}
			plane[i] = x
		}
	}
	return out
}

// crop returns the cw×ch pixels of RGB pixels w wide from column x0 and
// row y0 (HF's center_crop: offsets (w−cw)/2 and (h−ch)/2, rounded down).
func crop(rgb []uint8, w, x0, y0, cw, ch int) []uint8 {
	out := make([]uint8, 0, 3*cw*ch)
	for y := y0; y < y0+ch; y++ {
		out = append(out, rgb[3*(y*w+x0):3*(y*w+x0+cw)]...)
	}
	return out
}

// toRGB returns img's pixels as 8-bit RGB triples, row by row, as Pillow's
// convert("RGB") gives them: grey replicated (16-bit grey clipped at 255,
// as Pillow clips it), alpha dropped (not composed over a background).
func toRGB(img image.Image) (rgb []uint8, w, h int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	switch m := img.(type) {
	case *oriented:
		rgb, w, h := toRGB(m.Image)
		return orient(rgb, w, h, m.o)
	case *image.YCbCr:
		return jpegRGB(m), w, h
	}
	rgb = make([]uint8, 0, 3*w*h)
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Pix[m.PixOffset(b.Min.X, y):][:w] {
				rgb = append(rgb, v, v, v)
			}
		}
	case *image.Gray16:
		// Pillow opens 16-bit grey as 32-bit integers ("I") and clips
		// them to 255 when converting to RGB; Go would keep the high byte.
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				v := uint8(min(m.Gray16At(x, y).Y, 255))
				rgb = append(rgb, v, v, v)
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:4*w]
			for x := 0; x < 4*w; x += 4 {
				rgb = append(rgb, row[x], row[x+1], row[x+2])
			}
		}
	case *image.NRGBA64:
		// 16-bit colour with alpha: Pillow keeps each channel's high byte
		// and drops alpha; a conversion through premultiplied colour would
		// lose translucent pixels' colour.
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:8*w]
			for x := 0; x < 8*w; x += 8 {
				rgb = append(rgb, row[x], row[x+2], row[x+4])
			}
		}
	default:
		// Straight (not premultiplied) colour, so that a translucent pixel
		// keeps its colour as Pillow's does.
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				rgb = append(rgb, c.R, c.G, c.B)
			}
		}
	}
	return rgb, w, h
}

// jpegRGB converts a decoded JPEG's planes to RGB as libjpeg does for
// Pillow: chroma subsampled 2:1 across (4:2:2) or across and down (4:2:0)
// is upsampled by libjpeg's "fancy" triangle filter (jdsample.c; each
// output sample ¾ of its nearest input and ¼ of the next, with libjpeg's
// rounding) where Go's decoder repeats the nearest sample, and YCbCr
// becomes RGB with libjpeg's fixed-point tables (jdcolor.c). As libjpeg,
// chroma planes at most 2 samples wide are repeated, not filtered; other
// subsamplings (rare), and a YCbCr image cut out of a larger one (its
// Rect.Min not zero), are repeated too, where libjpeg would filter.
func jpegRGB(m *image.YCbCr) []uint8 {
	r := m.Rect
	w, h := r.Dx(), r.Dy()
	sx, sy := 0, 0 // chroma subsampling where fancy upsampling applies
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		sx, sy = 2, 1
	case image.YCbCrSubsampleRatio420:
		sx, sy = 2, 2
	}
	cb, cr := make([]uint8, w*h), make([]uint8, w*h) // the chroma at full size
	if cw, ch := (w+1)/2, (h+sy-1)/max(sy, 1); sx == 2 && cw > 2 && r.Min == (image.Point{}) {
		// One output row at a time: libjpeg's sums of the nearest chroma
		// row (×3) and the next nearest, then the horizontal triangle.
		colsum := make([]int32, cw)
		fancy := func(plane []uint8, out []uint8) {
			row := func(r int) []uint8 { r = min(max(r, 0), ch-1); return plane[r*m.CStride:][:cw] }
			for y := range h {
				o := out[y*w : (y+1)*w]
				near := row(y / sy)
				if sy == 1 { // 4:2:2: ¾ nearest + ¼ next, across only
					for x := range o {
						c := x / 2
						v := int32(near[c])
						switch {
						case x%2 == 0 && c > 0:
							v = (3*v + int32(near[c-1]) + 1) >> 2
						case x%2 == 1 && c < cw-1:
							v = (3*v + int32(near[c+1]) + 2) >> 2
						}
						o[x] = uint8(v)
					}
					continue
				}
				far := row(y/2 - 1 + 2*(y%2)) // above for an upper row, below for a lower
				for c := range cw {
					colsum[c] = 3*int32(near[c]) + int32(far[c])
				}
				for x := range o {
					c, v := x/2, int32(0)
					switch {
					case x%2 == 0 && c == 0:
						v = (4*colsum[c] + 8) >> 4
					case x%2 == 0:
						v = (3*colsum[c] + colsum[c-1] + 8) >> 4
					case c == cw-1:
						v = (4*colsum[c] + 7) >> 4
					default:
						v = (3*colsum[c] + colsum[c+1] + 7) >> 4
					}
					o[x] = uint8(v) // a weighted mean of samples: 0 to 255
				}
			}
		}
		fancy(m.Cb, cb)
		fancy(m.Cr, cr)
	} else {
		for y := range h {
			for x := range w {
				c := m.YCbCrAt(r.Min.X+x, r.Min.Y+y)
				cb[y*w+x], cr[y*w+x] = c.Cb, c.Cr
			}
		}
	}
	// libjpeg's tables: FIX(x) = x·2¹⁶ rounded, halves added where it adds
	// them, arithmetic shifts.
	const (
		half = 1 << 15
		crR  = 91881  // FIX(1.40200)
		cbB  = 116130 // FIX(1.77200)
		crG  = 46802  // FIX(0.71414)
		cbG  = 22554  // FIX(0.34414)
	)
	clamp := func(v int32) uint8 { return uint8(min(max(v, 0), 255)) }
	rgb := make([]uint8, 0, 3*w*h)
	for y := range h {
		for x := range w {
			i := y*w + x
			yy := int32(m.Y[m.YOffset(r.Min.X+x, r.Min.Y+y)])
			b, r := int32(cb[i])-128, int32(cr[i])-128
			rgb = append(rgb,
				clamp(yy+(crR*r+half)>>16),
				clamp(yy+(-cbG*b+half-crG*r)>>16),
				clamp(yy+(cbB*b+half)>>16))
		}
	}
	return rgb
}

// A filter is one of Pillow's resampling filters: its kernel and the
// kernel's half-width at scale 1.
type filter struct {
	support float64
	fn      func(x float64) float64
}

// filters are Pillow's (libImaging/Resample.c), by its numbers.
var filters = map[int]filter{
	1: {3, func(x float64) float64 { // Lanczos: sinc windowed by sinc over [-3, 3)
		if -3 <= x && x < 3 {
			return sinc(x) * sinc(x/3)
		}
		return 0
	}},
	2: {1, func(x float64) float64 { // bilinear: the triangle
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}},
	3: {2, func(x float64) float64 { // bicubic, a = -0.5
		const a = -0.5
		x = math.Abs(x)
		switch {
		case x < 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}},
	4: {0.5, func(x float64) float64 { // box
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	}},
	5: {1, func(x float64) float64 { // Hamming-windowed sinc
		x = math.Abs(x)
		switch {
		case x == 0:
			return 1
		case x >= 1:
			return 0
		}
		x *= math.Pi
		return math.Sin(x) / x * (0.54 + 0.46*math.Cos(x))
	}},
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// precision is the fixed-point precision of Pillow's 8-bit resampling
// weights (PRECISION_BITS).
const precision = 32 - 8 - 2

// taps are the weights of one resampling pass: output i reads inputs
// first[i] .. first[i]+len(weights[i])-1.
type taps struct {
	first   []int
	weights [][]int32
}

// coefficients computes Pillow's weights for resizing in pixels to out
// (precompute_coeffs and normalize_coeffs_8bpc): the filter is stretched
// by the scale when shrinking, so that every input pixel counts.
func coefficients(in, out int, f filter) taps {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := f.support * fscale
	t := taps{first: make([]int, out), weights: make([][]int32, out)}
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0) // C's truncation: lo is never far below 0
		hi := min(int(center+support+0.5), in)
		k := make([]float64, max(hi-lo, 0))
		var sum float64
		for j := range k {
			k[j] = f.fn((float64(j+lo) - center + 0.5) / fscale)
			sum += k[j]
		}
		w := make([]int32, len(k))
		for j, v := range k {
			if sum != 0 {
				v /= sum
			}
			if v < 0 {
				w[j] = int32(-0.5 + v*(1<<precision))
			} else {
				w[j] = int32(0.5 + v*(1<<precision))
			}
		}
		t.first[i], t.weights[i] = lo, w
	}
	return t
}

// clip8 rounds a fixed-point sum back to 8 bits.
func clip8(v int32) uint8 {
	v >>= precision
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// resize scales RGB pixels from w×h to ow×oh as Pillow's Image.resize does
// for 8-bit images: a horizontal pass, rounded to 8 bits, then a vertical
// one, each skipped when that side keeps its size.
func resize(rgb []uint8, w, h, ow, oh int, f filter) ([]uint8, int, int) {
	if ow != w {
		t := coefficients(w, ow, f)
		out := make([]uint8, 3*ow*h)
		for y := range h {
			src, dst := rgb[3*w*y:3*w*(y+1)], out[3*ow*y:3*ow*(y+1)]
			for x := range ow {
				var s [3]int32
				s[0], s[1], s[2] = 1<<(precision-1), 1<<(precision-1), 1<<(precision-1)
				for j, k := range t.weights[x] {
					p := src[3*(t.first[x]+j):]
					s[0] += int32(p[0]) * k
					s[1] += int32(p[1]) * k
					s[2] += int32(p[2]) * k
				}
				dst[3*x], dst[3*x+1], dst[3*x+2] = clip8(s[0]), clip8(s[1]), clip8(s[2])
			}
		}
		rgb, w = out, ow
	}
	if oh != h {
		t := coefficients(h, oh, f)
		out := make([]uint8, 3*w*oh)
		for y := range oh {
			dst := out[3*w*y : 3*w*(y+1)]
			for i := range dst {
				s := int32(1 << (precision - 1))
				for j, k := range t.weights[y] {
					s += int32(rgb[3*w*(t.first[y]+j)+i]) * k
				}
				dst[i] = clip8(s)
			}
		}
		rgb, h = out, oh
	}
	return rgb, w, h
}
