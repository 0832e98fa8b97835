//go:build !purego

#include "textflag.h"

// func adamAVX2(w, grad, m, v *float32, n int, s *AdamStep)
// adamGeneric over n elements, n a positive multiple of 8; AVX2 + FMA.
// AdamStep's fields are float32s in declaration order.
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ s+40(FP), AX
	VBROADCASTSS 0(AX), Y15       // Beta1
	VBROADCASTSS 4(AX), Y14       // Beta2
	VBROADCASTSS 8(AX), Y8        // C1
	VBROADCASTSS 12(AX), Y7       // C2
	VBROADCASTSS 16(AX), Y13      // Eps
	VBROADCASTSS 20(AX), Y12      // StepSize
	VBROADCASTSS 24(AX), Y11      // InvBc2Sqrt
	VBROADCASTSS 28(AX), Y10      // WeightDecay
	VBROADCASTSS 32(AX), Y9       // Decay
adam:
	VMULPS (DI), Y9, Y0           // w·Decay
	VMOVUPS (SI), Y1
	VFMADD231PS Y0, Y10, Y1       // g + WeightDecay·w
	VMULPS (R8), Y15, Y2
	VFMADD231PS Y1, Y8, Y2        // m = Beta1·m + C1·g
	VMOVUPS Y2, (R8)
	VMULPS (R9), Y14, Y3
	VMULPS Y1, Y7, Y4
	VFMADD231PS Y1, Y4, Y3        // v = Beta2·v + C2·g·g
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VFMADD213PS Y13, Y11, Y5      // √v·InvBc2Sqrt + Eps
	VDIVPS Y5, Y2, Y6
	VFNMADD231PS Y6, Y12, Y0      // w − StepSize·m/(…)
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JNZ adam
	VZEROUPPER
	RET
