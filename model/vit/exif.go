package vit

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
)

// exifOrientation returns the EXIF Orientation (1 to 8) of a JPEG (APP1
// segment) or PNG (eXIf chunk) file, or 1 when it has none or the data is
// malformed: cameras store pictures as the sensor saw them and record how
// to turn them upright here.
func exifOrientation(data []byte) int {
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xd8}): // JPEG: markers up to the scan
		for p := 2; p+4 <= len(data) && data[p] == 0xff; {
			if data[p+1] == 0xff { // a fill byte before a marker
				p++
				continue
			}
			marker, n := data[p+1], int(binary.BigEndian.Uint16(data[p+2:]))
			if marker == 0xda || n < 2 || p+2+n > len(data) {
				break
			}
			if seg := data[p+4 : p+2+n]; marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				return tiffOrientation(seg[6:])
			}
			p += 2 + n
		}
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")): // PNG: every chunk (Pillow reads an eXIf after the image data too)
		for p := 8; p+8 <= len(data); {
			n, typ := int(binary.BigEndian.Uint32(data[p:])), string(data[p+4:p+8])
			if typ == "IEND" || n < 0 || p+8+n > len(data) {
				break
			}
			if typ == "eXIf" {
				return tiffOrientation(data[p+8 : p+8+n])
			}
			p += 12 + n
		}
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of the first directory of a TIFF
// structure (EXIF's layout): as a SHORT, or a LONG or signed type as some
// writers store it; the last entry wins, as in Pillow.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	ifd := int(order.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 1
	}
	n, o := int(order.Uint16(t[ifd:])), 1
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > len(t) {
			break
		}
		if order.Uint16(t[e:]) != 0x0112 {
			continue
		}
		v := -1
		switch order.Uint16(t[e+2:]) { // the value's type; one value fits in the entry
		case 3, 8: // SHORT, SSHORT
			v = int(int16(order.Uint16(t[e+8:])))
		case 4, 9: // LONG, SLONG
			v = int(int32(order.Uint32(t[e+8:])))
		}
		if v >= 1 && v <= 8 {
			o = v
		}
	}
	return o
}

// oriented is an image shown upright: its EXIF orientation o (2 to 8)
// applied as Pillow's ImageOps.exif_transpose applies it (HF's load_image
// does), mirrored and/or rotated.
type oriented struct {
	image.Image
	o int
}

// swaps reports whether the orientation turns the image a quarter turn.
func (m *oriented) swaps() bool { return m.o >= 5 }

func (m *oriented) Bounds() image.Rectangle {
	b := m.Image.Bounds()
	if m.swaps() {
		return image.Rect(0, 0, b.Dy(), b.Dx())
	}
	return image.Rect(0, 0, b.Dx(), b.Dy())
}

// source returns where upright pixel (x, y) lies in the stored image
// (offsets from its corner; w and h its stored size).
func source(o, x, y, w, h int) (int, int) {
	switch o {
	case 2: // mirrored left to right
		return w - 1 - x, y
	case 3: // turned half round
		return w - 1 - x, h - 1 - y
	case 4: // mirrored top to bottom
		return x, h - 1 - y
	case 5: // transposed
		return y, x
	case 6: // Pillow's ROTATE_270: a quarter turn clockwise
		return y, h - 1 - x
	case 7: // transversed
		return w - 1 - y, h - 1 - x
	case 8: // Pillow's ROTATE_90: a quarter turn anticlockwise
		return w - 1 - y, x
	}
	return x, y
}

func (m *oriented) At(x, y int) color.Color {
	b := m.Image.Bounds()
	sx, sy := source(m.o, x, y, b.Dx(), b.Dy())
	return m.Image.At(b.Min.X+sx, b.Min.Y+sy)
}

// orient applies orientation o to RGB pixels w×h of the stored image and
// returns them upright, with their size.
func orient(rgb []uint8, w, h, o int) ([]uint8, int, int) {
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := make([]uint8, 0, len(rgb))
	for y := range oh {
		for x := range ow {
			sx, sy := source(o, x, y, w, h)
			i := 3 * (sy*w + sx)
			out = append(out, rgb[i], rgb[i+1], rgb[i+2])
		}
	}
	return out, ow, oh
}
