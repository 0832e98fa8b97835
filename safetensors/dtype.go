package safetensors

import "math"

// DType names an element type the way safetensors headers spell it, so
// values can be compared with and written into headers without mapping.
type DType string

// The element types this package understands; files using any other dtype
// are rejected rather than guessed at. They carry a DType prefix because F32
// and I64 name the tensor constructors.
const (
	DTypeF64    DType = "F64"
	DTypeF32    DType = "F32"
	DTypeF16    DType = "F16"
	DTypeBF16   DType = "BF16"
	DTypeI64    DType = "I64"
	DTypeI32    DType = "I32"
	DTypeI16    DType = "I16"
	DTypeI8     DType = "I8"
	DTypeU64    DType = "U64"
	DTypeU32    DType = "U32"
	DTypeU16    DType = "U16"
	DTypeU8     DType = "U8"
	DTypeBOOL   DType = "BOOL"
	DTypeF8E4M3 DType = "F8_E4M3"
	DTypeF8E5M2 DType = "F8_E5M2"
)

// Size returns the bytes per element, or 0 for an unknown dtype, so callers
// can both size buffers and detect unsupported types with one call.
func (d DType) Size() int {
	switch d {
	case DTypeF64, DTypeI64, DTypeU64:
		return 8
	case DTypeF32, DTypeI32, DTypeU32:
		return 4
	case DTypeF16, DTypeBF16, DTypeI16, DTypeU16:
		return 2
	case DTypeI8, DTypeU8, DTypeBOOL, DTypeF8E4M3, DTypeF8E5M2:
		return 1
	}
	return 0
}

// Float16ToFloat32 widens an IEEE 754 half-precision value; it is exact, so
// F16 weights load without loss.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN; keep the payload
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
	// Zero or subnormal: mant * 2^-24 is exact in float32.
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// BFloat16ToFloat32 widens a bfloat16 value, which is the top half of a
// float32, so the conversion is exact.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32ToFloat16 narrows to IEEE 754 half precision with round to nearest
// even, the rounding PyTorch and NumPy use, so written files match theirs.
// Too-large values become ±inf, tiny ones subnormals or ±0, and NaN stays NaN.
func Float32ToFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13) // quiet NaN
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half: shift the full significand into units of 2^-24.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		return sign | uint16(roundShift(mant|0x800000, uint(14-e)))
	}
	// A carry out of the mantissa correctly bumps the exponent (up to inf).
	return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
}

// roundShift returns v >> s rounded to nearest, ties to even.
func roundShift(v uint32, s uint) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return q
}

// Float32ToBFloat16 narrows to bfloat16 with round to nearest even, so
// written BF16 matches PyTorch; NaN stays NaN instead of rounding to inf.
func Float32ToBFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	if bits&0x7fffffff > 0x7f800000 {
		return uint16(bits>>16) | 0x40 // quiet NaN
	}
	return uint16(roundShift(bits, 16))
}
