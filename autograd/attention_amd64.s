// Vector loops of the streaming attention kernel (attention.go), AVX2 + FMA.
// See attention_amd64.go for what each computes; expShiftAVX2 is expShift's
// algorithm, eight lanes at a time.

//go:build !purego

#include "textflag.h"

DATA attnconst<>+0(SB)/4, $0xc2ae0000
DATA attnconst<>+4(SB)/4, $0xc2ae0000
DATA attnconst<>+8(SB)/4, $0xc2ae0000
DATA attnconst<>+12(SB)/4, $0xc2ae0000
DATA attnconst<>+16(SB)/4, $0xc2ae0000
DATA attnconst<>+20(SB)/4, $0xc2ae0000
DATA attnconst<>+24(SB)/4, $0xc2ae0000
DATA attnconst<>+28(SB)/4, $0xc2ae0000
DATA attnconst<>+32(SB)/4, $0x42b00000
DATA attnconst<>+36(SB)/4, $0x42b00000
DATA attnconst<>+40(SB)/4, $0x42b00000
DATA attnconst<>+44(SB)/4, $0x42b00000
DATA attnconst<>+48(SB)/4, $0x42b00000
DATA attnconst<>+52(SB)/4, $0x42b00000
DATA attnconst<>+56(SB)/4, $0x42b00000
DATA attnconst<>+60(SB)/4, $0x42b00000
DATA attnconst<>+64(SB)/4, $0x3fb8aa3b
DATA attnconst<>+68(SB)/4, $0x3fb8aa3b
DATA attnconst<>+72(SB)/4, $0x3fb8aa3b
DATA attnconst<>+76(SB)/4, $0x3fb8aa3b
DATA attnconst<>+80(SB)/4, $0x3fb8aa3b
DATA attnconst<>+84(SB)/4, $0x3fb8aa3b
DATA attnconst<>+88(SB)/4, $0x3fb8aa3b
DATA attnconst<>+92(SB)/4, $0x3fb8aa3b
DATA attnconst<>+96(SB)/4, $0x4b400000
DATA attnconst<>+100(SB)/4, $0x4b400000
DATA attnconst<>+104(SB)/4, $0x4b400000
DATA attnconst<>+108(SB)/4, $0x4b400000
DATA attnconst<>+112(SB)/4, $0x4b400000
DATA attnconst<>+116(SB)/4, $0x4b400000
DATA attnconst<>+120(SB)/4, $0x4b400000
DATA attnconst<>+124(SB)/4, $0x4b400000
DATA attnconst<>+128(SB)/4, $0x3f318000
DATA attnconst<>+132(SB)/4, $0x3f318000
DATA attnconst<>+136(SB)/4, $0x3f318000
DATA attnconst<>+140(SB)/4, $0x3f318000
DATA attnconst<>+144(SB)/4, $0x3f318000
DATA attnconst<>+148(SB)/4, $0x3f318000
DATA attnconst<>+152(SB)/4, $0x3f318000
DATA attnconst<>+156(SB)/4, $0x3f318000
DATA attnconst<>+160(SB)/4, $0xb95e8083
DATA attnconst<>+164(SB)/4, $0xb95e8083
DATA attnconst<>+168(SB)/4, $0xb95e8083
DATA attnconst<>+172(SB)/4, $0xb95e8083
DATA attnconst<>+176(SB)/4, $0xb95e8083
DATA attnconst<>+180(SB)/4, $0xb95e8083
DATA attnconst<>+184(SB)/4, $0xb95e8083
DATA attnconst<>+188(SB)/4, $0xb95e8083
DATA attnconst<>+192(SB)/4, $0x39500d01
DATA attnconst<>+196(SB)/4, $0x39500d01
DATA attnconst<>+200(SB)/4, $0x39500d01
DATA attnconst<>+204(SB)/4, $0x39500d01
DATA attnconst<>+208(SB)/4, $0x39500d01
DATA attnconst<>+212(SB)/4, $0x39500d01
DATA attnconst<>+216(SB)/4, $0x39500d01
DATA attnconst<>+220(SB)/4, $0x39500d01
DATA attnconst<>+224(SB)/4, $0x3ab60b61
DATA attnconst<>+228(SB)/4, $0x3ab60b61
DATA attnconst<>+232(SB)/4, $0x3ab60b61
DATA attnconst<>+236(SB)/4, $0x3ab60b61
DATA attnconst<>+240(SB)/4, $0x3ab60b61
DATA attnconst<>+244(SB)/4, $0x3ab60b61
DATA attnconst<>+248(SB)/4, $0x3ab60b61
DATA attnconst<>+252(SB)/4, $0x3ab60b61
DATA attnconst<>+256(SB)/4, $0x3c088889
DATA attnconst<>+260(SB)/4, $0x3c088889
DATA attnconst<>+264(SB)/4, $0x3c088889
DATA attnconst<>+268(SB)/4, $0x3c088889
DATA attnconst<>+272(SB)/4, $0x3c088889
DATA attnconst<>+276(SB)/4, $0x3c088889
DATA attnconst<>+280(SB)/4, $0x3c088889
DATA attnconst<>+284(SB)/4, $0x3c088889
DATA attnconst<>+288(SB)/4, $0x3d2aaaab
DATA attnconst<>+292(SB)/4, $0x3d2aaaab
DATA attnconst<>+296(SB)/4, $0x3d2aaaab
DATA attnconst<>+300(SB)/4, $0x3d2aaaab
DATA attnconst<>+304(SB)/4, $0x3d2aaaab
DATA attnconst<>+308(SB)/4, $0x3d2aaaab
DATA attnconst<>+312(SB)/4, $0x3d2aaaab
DATA attnconst<>+316(SB)/4, $0x3d2aaaab
DATA attnconst<>+320(SB)/4, $0x3e2aaaab
DATA attnconst<>+324(SB)/4, $0x3e2aaaab
DATA attnconst<>+328(SB)/4, $0x3e2aaaab
DATA attnconst<>+332(SB)/4, $0x3e2aaaab
DATA attnconst<>+336(SB)/4, $0x3e2aaaab
DATA attnconst<>+340(SB)/4, $0x3e2aaaab
DATA attnconst<>+344(SB)/4, $0x3e2aaaab
DATA attnconst<>+348(SB)/4, $0x3e2aaaab
DATA attnconst<>+352(SB)/4, $0x3f000000
DATA attnconst<>+356(SB)/4, $0x3f000000
DATA attnconst<>+360(SB)/4, $0x3f000000
DATA attnconst<>+364(SB)/4, $0x3f000000
DATA attnconst<>+368(SB)/4, $0x3f000000
DATA attnconst<>+372(SB)/4, $0x3f000000
DATA attnconst<>+376(SB)/4, $0x3f000000
DATA attnconst<>+380(SB)/4, $0x3f000000
DATA attnconst<>+384(SB)/4, $0x3f800000
DATA attnconst<>+388(SB)/4, $0x3f800000
DATA attnconst<>+392(SB)/4, $0x3f800000
DATA attnconst<>+396(SB)/4, $0x3f800000
DATA attnconst<>+400(SB)/4, $0x3f800000
DATA attnconst<>+404(SB)/4, $0x3f800000
DATA attnconst<>+408(SB)/4, $0x3f800000
DATA attnconst<>+412(SB)/4, $0x3f800000
DATA attnconst<>+416(SB)/4, $0x4b3fff81
DATA attnconst<>+420(SB)/4, $0x4b3fff81
DATA attnconst<>+424(SB)/4, $0x4b3fff81
DATA attnconst<>+428(SB)/4, $0x4b3fff81
DATA attnconst<>+432(SB)/4, $0x4b3fff81
DATA attnconst<>+436(SB)/4, $0x4b3fff81
DATA attnconst<>+440(SB)/4, $0x4b3fff81
DATA attnconst<>+444(SB)/4, $0x4b3fff81
GLOBL attnconst<>(SB), RODATA|NOPTR, $448

// func expShiftAVX2(x *float32, n int, m float32) float32
// n is a multiple of 8.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VXORPS Y14, Y14, Y14
	VXORPS Y13, Y13, Y13
	VMOVUPS attnconst<>+0(SB), Y12
	VMOVUPS attnconst<>+32(SB), Y11
	VMOVUPS attnconst<>+96(SB), Y10
exp16: // two vectors at a time, interleaved, so that their chains overlap
	CMPQ CX, $16
	JLT expLoop
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	VSUBPS Y15, Y0, Y0
	VSUBPS Y15, Y5, Y5
	VCMPPS $0x15, Y12, Y0, Y1
	VCMPPS $0x15, Y12, Y5, Y6
	VMAXPS Y0, Y12, Y0
	VMAXPS Y5, Y12, Y5
	VMINPS Y0, Y11, Y0
	VMINPS Y5, Y11, Y5
	VMOVAPS Y10, Y2
	VMOVAPS Y10, Y7
	VFMADD231PS attnconst<>+64(SB), Y0, Y2
	VFMADD231PS attnconst<>+64(SB), Y5, Y7
	VSUBPS Y10, Y2, Y3
	VSUBPS Y10, Y7, Y8
	VFNMADD231PS attnconst<>+128(SB), Y3, Y0
	VFNMADD231PS attnconst<>+128(SB), Y8, Y5
	VFNMADD231PS attnconst<>+160(SB), Y3, Y0
	VFNMADD231PS attnconst<>+160(SB), Y8, Y5
	VMOVUPS attnconst<>+192(SB), Y4
	VMOVUPS attnconst<>+192(SB), Y9
	VFMADD213PS attnconst<>+224(SB), Y0, Y4
	VFMADD213PS attnconst<>+224(SB), Y5, Y9
	VFMADD213PS attnconst<>+256(SB), Y0, Y4
	VFMADD213PS attnconst<>+256(SB), Y5, Y9
	VFMADD213PS attnconst<>+288(SB), Y0, Y4
	VFMADD213PS attnconst<>+288(SB), Y5, Y9
	VFMADD213PS attnconst<>+320(SB), Y0, Y4
	VFMADD213PS attnconst<>+320(SB), Y5, Y9
	VFMADD213PS attnconst<>+352(SB), Y0, Y4
	VFMADD213PS attnconst<>+352(SB), Y5, Y9
	VFMADD213PS attnconst<>+384(SB), Y0, Y4
	VFMADD213PS attnconst<>+384(SB), Y5, Y9
	VFMADD213PS attnconst<>+384(SB), Y0, Y4
	VFMADD213PS attnconst<>+384(SB), Y5, Y9
	VPSUBD attnconst<>+416(SB), Y2, Y2
	VPSUBD attnconst<>+416(SB), Y7, Y7
	VPSLLD $23, Y2, Y2
	VPSLLD $23, Y7, Y7
	VMULPS Y2, Y4, Y4
	VMULPS Y7, Y9, Y9
	VANDPS Y1, Y4, Y4
	VANDPS Y6, Y9, Y9
	VADDPS Y4, Y14, Y14
	VADDPS Y9, Y13, Y13
	VMOVUPS Y4, (SI)
	VMOVUPS Y9, 32(SI)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP exp16
expLoop:
	CMPQ CX, $8
	JLT expDone
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0            // a = x − m
	VCMPPS $0x15, Y12, Y0, Y1     // keep = !(a < −87): false for −Inf, true for NaN
	VMAXPS Y0, Y12, Y0            // clamp to [−87, 88], a NaN stays NaN
	VMINPS Y0, Y11, Y0
	VMOVAPS Y10, Y2
	VFMADD231PS attnconst<>+64(SB), Y0, Y2    // t = a·log2e + 1.5·2^23: n in its low bits
	VSUBPS Y10, Y2, Y3            // n = t − 1.5·2^23
	VFNMADD231PS attnconst<>+128(SB), Y3, Y0   // r = a − n·ln2
	VFNMADD231PS attnconst<>+160(SB), Y3, Y0
	VMOVUPS attnconst<>+192(SB), Y4
	VFMADD213PS attnconst<>+224(SB), Y0, Y4       // p = Σ r^i/i!, i <= 7, by Horner
	VFMADD213PS attnconst<>+256(SB), Y0, Y4
	VFMADD213PS attnconst<>+288(SB), Y0, Y4
	VFMADD213PS attnconst<>+320(SB), Y0, Y4
	VFMADD213PS attnconst<>+352(SB), Y0, Y4
	VFMADD213PS attnconst<>+384(SB), Y0, Y4
	VFMADD213PS attnconst<>+384(SB), Y0, Y4
	VPSUBD attnconst<>+416(SB), Y2, Y2          // n + 127
	VPSLLD $23, Y2, Y2            // 2^n
	VMULPS Y2, Y4, Y4
	VANDPS Y1, Y4, Y4
	VADDPS Y4, Y14, Y14
	VMOVUPS Y4, (SI)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP expLoop
expDone:
	VADDPS Y13, Y14, Y14
	VEXTRACTF128 $1, Y14, X0
	VADDPS X0, X14, X0
	VPSHUFD $0x4e, X0, X1
	VADDPS X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VADDSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func rowMaxAVX2(x *float32, n int) float32
// n is a positive multiple of 8.
TEXT ·rowMaxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	ADDQ $32, SI
	SUBQ $8, CX
maxLoop:
	CMPQ CX, $8
	JLT maxDone
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP maxLoop
maxDone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VMAXSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func dsRowAVX2(p, dp *float32, n int, di float32)
// dp[j] = p[j]·(dp[j] − di) for j < n, n a multiple of 8.
TEXT ·dsRowAVX2(SB), NOSPLIT, $0-28
	MOVQ p+0(FP), SI
	MOVQ dp+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS di+24(FP), Y15
dsLoop:
	CMPQ CX, $8
	JLT dsDone
	VMOVUPS (DI), Y0
	VSUBPS Y15, Y0, Y0
	VMULPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP dsLoop
dsDone:
	VZEROUPPER
	RET

// func transposeAVX2(dst *float32, ldd int, src *float32, lds, rows, cols int)
// dst[c·ldd + i] = src[i·lds + c] for i < rows, c < cols, both multiples
// of 8, one 8×8 block at a time.
TEXT ·transposeAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	MOVQ rows+32(FP), R10
	MOVQ cols+40(FP), R11
	SHLQ $2, R8
	SHLQ $2, R9
	XORQ AX, AX                   // i0
trRows:
	CMPQ AX, R10
	JGE trDone
	XORQ BX, BX                   // c0
trCols:
	CMPQ BX, R11
	JGE trNextRows
	MOVQ AX, CX
	IMULQ R9, CX
	LEAQ (SI)(CX*1), DX
	LEAQ (DX)(BX*4), DX           // &src[i0·lds + c0]
	VMOVUPS (DX), Y0
	ADDQ R9, DX
	VMOVUPS (DX), Y1
	ADDQ R9, DX
	VMOVUPS (DX), Y2
	ADDQ R9, DX
	VMOVUPS (DX), Y3
	ADDQ R9, DX
	VMOVUPS (DX), Y4
	ADDQ R9, DX
	VMOVUPS (DX), Y5
	ADDQ R9, DX
	VMOVUPS (DX), Y6
	ADDQ R9, DX
	VMOVUPS (DX), Y7
	VUNPCKLPS Y1, Y0, Y8          // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y9          // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0    // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xEE, Y10, Y8, Y1    // a1 b1 c1 d1 | a5 b5 c5 d5
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4   // e0 f0 g0 h0 | e4 f4 g4 h4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8  // column 0: a0 .. h0
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12 // column 4
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ BX, CX
	IMULQ R8, CX
	LEAQ (DI)(CX*1), DX
	LEAQ (DX)(AX*4), DX           // &dst[c0·ldd + i0]
	VMOVUPS Y8, (DX)
	ADDQ R8, DX
	VMOVUPS Y9, (DX)
	ADDQ R8, DX
	VMOVUPS Y10, (DX)
	ADDQ R8, DX
	VMOVUPS Y11, (DX)
	ADDQ R8, DX
	VMOVUPS Y12, (DX)
	ADDQ R8, DX
	VMOVUPS Y13, (DX)
	ADDQ R8, DX
	VMOVUPS Y14, (DX)
	ADDQ R8, DX
	VMOVUPS Y15, (DX)
	ADDQ $8, BX
	JMP trCols
trNextRows:
	ADDQ $8, AX
	JMP trRows
trDone:
	VZEROUPPER
	RET

// EXPA sets Y6·Y4 = e^a for a in Y3, −87 <= a <= 1, as expShift's lanes:
// n = round(a·log2e), r = a − n·ln2, e^r by its degree-7 Taylor
// polynomial (Y6), 2^n built in the exponent bits (Y4). It expects Y8 =
// 1.5·2^23 and uses Y5; the caller multiplies Y6 by Y4.
#define EXPA \
	VMOVAPS Y8, Y4; \
	VFMADD231PS attnconst<>+64(SB), Y3, Y4; \
	VSUBPS Y8, Y4, Y5; \
	VFNMADD231PS attnconst<>+128(SB), Y5, Y3; \
	VFNMADD231PS attnconst<>+160(SB), Y5, Y3; \
	VMOVUPS attnconst<>+192(SB), Y6; \
	VFMADD213PS attnconst<>+224(SB), Y3, Y6; \
	VFMADD213PS attnconst<>+256(SB), Y3, Y6; \
	VFMADD213PS attnconst<>+288(SB), Y3, Y6; \
	VFMADD213PS attnconst<>+320(SB), Y3, Y6; \
	VFMADD213PS attnconst<>+352(SB), Y3, Y6; \
	VFMADD213PS attnconst<>+384(SB), Y3, Y6; \
	VFMADD213PS attnconst<>+384(SB), Y3, Y6; \
	VPSUBD attnconst<>+416(SB), Y4, Y4; \
	VPSLLD $23, Y4, Y4

// GELU's tanh approximation (ops.go), eight lanes at a time; the scalars
// are broadcast from geluconst.
DATA geluconst<>+0(SB)/4, $0x3f4c422a  // c = √(2/π)
DATA geluconst<>+4(SB)/4, $0x3d122279  // c·0.044715
DATA geluconst<>+8(SB)/4, $0xc0000000  // −2
DATA geluconst<>+12(SB)/4, $0x3f000000 // 0.5
DATA geluconst<>+16(SB)/4, $0x3f800000 // 1
DATA geluconst<>+20(SB)/4, $0x80000000 // the sign bit
DATA geluconst<>+24(SB)/4, $0x3ddb33b6 // 3·c·0.044715
GLOBL geluconst<>(SB), RODATA|NOPTR, $28

// func geluFwdAVX2(x, t, y *float32, n int)
// t = tanh(u), y = ½·x·(1 + t) with u = c·(x + 0.044715·x³), for n a
// positive multiple of 8. tanh(u) = sign(u)·(1 − e)/(1 + e), e = exp(−2|u|).
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ t+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS geluconst<>+0(SB), Y15
	VBROADCASTSS geluconst<>+4(SB), Y14
	VBROADCASTSS geluconst<>+8(SB), Y13
	VBROADCASTSS geluconst<>+12(SB), Y12
	VBROADCASTSS geluconst<>+16(SB), Y11
	VBROADCASTSS geluconst<>+20(SB), Y10
	VMOVUPS attnconst<>+0(SB), Y9  // −87
	VMOVUPS attnconst<>+96(SB), Y8 // 1.5·2^23
geluFwd:
	VMOVUPS (SI), Y0              // v
	VMULPS Y0, Y0, Y1             // v²
	VMOVAPS Y15, Y2
	VFMADD231PS Y1, Y14, Y2       // c + c·0.044715·v²
	VMULPS Y0, Y2, Y2             // u
	VANDNPS Y2, Y10, Y3           // |u|
	VMULPS Y13, Y3, Y3            // a = −2|u|
	VMAXPS Y3, Y9, Y3             // ≥ −87, where e is already 0 to float32
	EXPA
	VMULPS Y4, Y6, Y6                         // e
	VSUBPS Y6, Y11, Y7            // 1 − e
	VADDPS Y6, Y11, Y6            // 1 + e
	VDIVPS Y6, Y7, Y7             // |tanh u|
	VANDPS Y0, Y10, Y1            // u has the sign of v
	VORPS Y1, Y7, Y7              // t
	VMOVUPS Y7, (DI)
	VMULPS Y12, Y0, Y0            // ½v
	VFMADD231PS Y7, Y0, Y0        // ½v + ½v·t
	VMOVUPS Y0, (DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ geluFwd
	VZEROUPPER
	RET

// func geluBwdAVX2(x, t, dy, dx *float32, n int)
// dx += dy·(½(1 + t) + ½·x·(1 − t²)·c·(1 + 3·0.044715·x²)) for n a positive
// multiple of 8.
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ t+8(FP), DI
	MOVQ dy+16(FP), DX
	MOVQ dx+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS geluconst<>+0(SB), Y15
	VBROADCASTSS geluconst<>+12(SB), Y12
	VBROADCASTSS geluconst<>+16(SB), Y11
	VBROADCASTSS geluconst<>+24(SB), Y9
geluBwd:
	VMOVUPS (SI), Y0              // v
	VMOVUPS (DI), Y7              // t
	VMOVAPS Y12, Y1
	VFMADD231PS Y12, Y7, Y1       // ½ + ½t
	VMOVAPS Y11, Y2
	VFNMADD231PS Y7, Y7, Y2       // 1 − t²
	VMULPS Y0, Y0, Y3             // v²
	VMOVAPS Y15, Y4
	VFMADD231PS Y3, Y9, Y4        // c + 3c·0.044715·v²
	VMULPS Y12, Y0, Y5            // ½v
	VMULPS Y2, Y5, Y5             // ½v(1 − t²)
	VFMADD231PS Y4, Y5, Y1        // the derivative
	VMOVUPS (R8), Y6
	VFMADD231PS (DX), Y1, Y6      // dx + dy·derivative
	VMOVUPS Y6, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	SUBQ $8, CX
	JNZ geluBwd
	VZEROUPPER
	RET

// HSUM sets the low lane of X to the sum of the eight lanes of Y (X is
// Y's lower half), using T as scratch.
#define HSUM(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPS T, X, X; \
	VPSHUFD $0x4e, X, T; \
	VADDPS T, X, X; \
	VPSHUFD $0xb1, X, T; \
	VADDSS T, X, X

// The rows of LayerNorm (fused.go), eight lanes at a time, in float32.

// func lnFwdRowAVX2(x, w, b, y *float32, c int, eps float32) (mean, rstd float32)
// c is a positive multiple of 8.
TEXT ·lnFwdRowAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), R8
	MOVQ b+16(FP), R9
	MOVQ y+24(FP), DI
	MOVQ c+32(FP), CX
	VCVTSI2SSQ CX, X13, X13       // c as a float
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
lnSum:
	VADDPS (SI)(AX*4), Y0, Y0
	ADDQ $8, AX
	CMPQ AX, CX
	JLT lnSum
	HSUM(Y0, X0, X1)
	VDIVSS X13, X0, X0            // mean
	VMOVSS X0, mean+48(FP)
	VBROADCASTSS X0, Y12
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
lnVar:
	VMOVUPS (SI)(AX*4), Y1
	VSUBPS Y12, Y1, Y1
	VFMADD231PS Y1, Y1, Y0
	ADDQ $8, AX
	CMPQ AX, CX
	JLT lnVar
	HSUM(Y0, X0, X1)
	VDIVSS X13, X0, X0            // variance
	VADDSS eps+40(FP), X0, X0
	VSQRTSS X0, X0, X0
	MOVL $0x3f800000, DX
	VMOVD DX, X1
	VDIVSS X0, X1, X0             // 1/√(var + eps)
	VMOVSS X0, rstd+52(FP)
	VBROADCASTSS X0, Y11
	XORQ AX, AX
lnOut:
	VMOVUPS (SI)(AX*4), Y1
	VSUBPS Y12, Y1, Y1
	VMULPS Y11, Y1, Y1            // x̂
	VMOVUPS (R9)(AX*4), Y2
	VFMADD231PS (R8)(AX*4), Y1, Y2 // x̂·w + b
	VMOVUPS Y2, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT lnOut
	VZEROUPPER
	RET

// func lnBwdRowAVX2(x, dy, w, pw, pb, dx *float32, c int, mean, rstd float32)
// pw += g·x̂, pb += g, and, when dx is not nil,
// dx += rstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)); c is a positive multiple of 8.
TEXT ·lnBwdRowAVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ w+16(FP), R8
	MOVQ pw+24(FP), R9
	MOVQ pb+32(FP), R10
	MOVQ dx+40(FP), DI
	MOVQ c+48(FP), CX
	VBROADCASTSS mean+56(FP), Y12
	VBROADCASTSS rstd+60(FP), Y11
	VXORPS Y0, Y0, Y0             // Σ g·w
	VXORPS Y1, Y1, Y1             // Σ g·w·x̂
	XORQ AX, AX
lnSums:
	VMOVUPS (SI)(AX*4), Y2
	VSUBPS Y12, Y2, Y2
	VMULPS Y11, Y2, Y2            // x̂
	VMOVUPS (DX)(AX*4), Y3        // g
	VMULPS (R8)(AX*4), Y3, Y4     // g·w
	VADDPS Y4, Y0, Y0
	VFMADD231PS Y4, Y2, Y1
	VMOVUPS (R9)(AX*4), Y5
	VFMADD231PS Y3, Y2, Y5
	VMOVUPS Y5, (R9)(AX*4)
	VADDPS (R10)(AX*4), Y3, Y5
	VMOVUPS Y5, (R10)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT lnSums
	TESTQ DI, DI
	JZ lnBwdDone
	VCVTSI2SSQ CX, X13, X13
	HSUM(Y0, X0, X2)
	VDIVSS X13, X0, X0
	VBROADCASTSS X0, Y10          // mean(g·w)
	HSUM(Y1, X1, X2)
	VDIVSS X13, X1, X1
	VBROADCASTSS X1, Y9           // mean(g·w·x̂)
	XORQ AX, AX
lnDx:
	VMOVUPS (SI)(AX*4), Y2
	VSUBPS Y12, Y2, Y2
	VMULPS Y11, Y2, Y2            // x̂
	VMOVUPS (DX)(AX*4), Y3
	VMULPS (R8)(AX*4), Y3, Y4     // g·w
	VSUBPS Y10, Y4, Y4
	VFNMADD231PS Y9, Y2, Y4       // g·w − mean(g·w) − x̂·mean(g·w·x̂)
	VMOVUPS (DI)(AX*4), Y5
	VFMADD231PS Y4, Y11, Y5
	VMOVUPS Y5, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT lnDx
lnBwdDone:
	VZEROUPPER
	RET

// Dropout (ops.go): dropHash in eight 32-bit lanes.
DATA dropconst<>+0(SB)/4, $0
DATA dropconst<>+4(SB)/4, $1
DATA dropconst<>+8(SB)/4, $2
DATA dropconst<>+12(SB)/4, $3
DATA dropconst<>+16(SB)/4, $4
DATA dropconst<>+20(SB)/4, $5
DATA dropconst<>+24(SB)/4, $6
DATA dropconst<>+28(SB)/4, $7
GLOBL dropconst<>(SB), RODATA|NOPTR, $32

#define LOWBIAS32(x, t) \
	VPSRLD $16, x, t; \
	VPXOR t, x, x; \
	VPMULLD Y10, x, x; \
	VPSRLD $15, x, t; \
	VPXOR t, x, x; \
	VPMULLD Y9, x, x; \
	VPSRLD $16, x, t; \
	VPXOR t, x, x

// func dropoutAVX2(x, m, y *float32, n int, seed uint64, base int, thr int32, keep float32)
// dropoutGo for n a positive multiple of 8.
TEXT ·dropoutAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ m+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ seed+32(FP), AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15         // low half of the seed
	SHRQ $32, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14         // high half
	MOVQ base+40(FP), AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	VPADDD dropconst<>+0(SB), Y13, Y13 // element numbers
	MOVL $8, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x9e3779b9, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $0x7feb352d, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	MOVL $0x846ca68b, AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y9
	MOVL thr+48(FP), AX
	DECL AX
	VMOVD AX, X8
	VPBROADCASTD X8, Y8           // thr − 1
	VBROADCASTSS keep+52(FP), Y7
dropLoop:
	VPMULLD Y11, Y13, Y0
	VPADDD Y15, Y0, Y0
	LOWBIAS32(Y0, Y1)
	VPXOR Y14, Y0, Y0
	LOWBIAS32(Y0, Y1)
	VPSRLD $8, Y0, Y0             // the top 24 bits
	VPCMPGTD Y8, Y0, Y0           // ≥ thr: kept
	VANDPS Y7, Y0, Y0
	TESTQ DI, DI                  // no mask to keep
	JZ dropNoMask
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
dropNoMask:
	VMULPS (SI), Y0, Y1
	VMOVUPS Y1, (DX)
	VPADDD Y12, Y13, Y13
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ dropLoop
	VZEROUPPER
	RET

DATA dropconst16<>+0(SB)/4, $0
DATA dropconst16<>+4(SB)/4, $1
DATA dropconst16<>+8(SB)/4, $2
DATA dropconst16<>+12(SB)/4, $3
DATA dropconst16<>+16(SB)/4, $4
DATA dropconst16<>+20(SB)/4, $5
DATA dropconst16<>+24(SB)/4, $6
DATA dropconst16<>+28(SB)/4, $7
DATA dropconst16<>+32(SB)/4, $8
DATA dropconst16<>+36(SB)/4, $9
DATA dropconst16<>+40(SB)/4, $10
DATA dropconst16<>+44(SB)/4, $11
DATA dropconst16<>+48(SB)/4, $12
DATA dropconst16<>+52(SB)/4, $13
DATA dropconst16<>+56(SB)/4, $14
DATA dropconst16<>+60(SB)/4, $15
GLOBL dropconst16<>(SB), RODATA|NOPTR, $64

#define LOWBIAS32Z(x, t) \
	VPSRLD $16, x, t; \
	VPXORD t, x, x; \
	VPMULLD Z10, x, x; \
	VPSRLD $15, x, t; \
	VPXORD t, x, x; \
	VPMULLD Z9, x, x; \
	VPSRLD $16, x, t; \
	VPXORD t, x, x

// func dropout512(x, m, y *float32, n int, seed uint64, base int, thr int32, keep float32)
// dropoutAVX2 sixteen lanes at a time (AVX-512F), with its numbers: the
// mask value is formed and then multiplied, so a dropped NaN or -0 rounds
// as there. n is a positive multiple of 16.
TEXT ·dropout512(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ m+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ seed+32(FP), AX
	VPBROADCASTD AX, Z15          // low half of the seed
	SHRQ $32, AX
	VPBROADCASTD AX, Z14          // high half
	MOVQ base+40(FP), AX
	VPBROADCASTD AX, Z13
	VPADDD dropconst16<>+0(SB), Z13, Z13 // element numbers
	MOVL $16, AX
	VPBROADCASTD AX, Z12
	MOVL $0x9e3779b9, AX
	VPBROADCASTD AX, Z11
	MOVL $0x7feb352d, AX
	VPBROADCASTD AX, Z10
	MOVL $0x846ca68b, AX
	VPBROADCASTD AX, Z9
	MOVL thr+48(FP), AX
	DECL AX
	VPBROADCASTD AX, Z8           // thr − 1
	VBROADCASTSS keep+52(FP), Z7
drop512Loop:
	VPMULLD Z11, Z13, Z0
	VPADDD Z15, Z0, Z0
	LOWBIAS32Z(Z0, Z1)
	VPXORD Z14, Z0, Z0
	LOWBIAS32Z(Z0, Z1)
	VPSRLD $8, Z0, Z0             // the top 24 bits
	VPCMPGTD Z8, Z0, K1           // ≥ thr: kept
	VMOVAPS.Z Z7, K1, Z2          // keep or 0
	TESTQ DI, DI                  // no mask to keep
	JZ drop512NoMask
	VMOVUPS Z2, (DI)
	ADDQ $64, DI
drop512NoMask:
	VMULPS (SI), Z2, Z1
	VMOVUPS Z1, (DX)
	VPADDD Z12, Z13, Z13
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JNZ drop512Loop
	VZEROUPPER
	RET

// func mulAddAVX2(dst, a, b *float32, n int, add int)
// dst = a·b (dst += a·b when add is 1) for n a positive multiple of 8.
TEXT ·mulAddAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ add+32(FP), AX
	TESTQ AX, AX
	JZ mulSet
mulAdd:
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VFMADD231PS (DX), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ mulAdd
	VZEROUPPER
	RET
mulSet:
	VMOVUPS (SI), Y1
	VMULPS (DX), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ mulSet
	VZEROUPPER
	RET

// func reluFwdAVX2(x, y *float32, n int)
// y = max(x, 0) (a NaN stays NaN), for n a positive multiple of 8.
TEXT ·reluFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y15, Y15, Y15
reluFwd:
	VMOVUPS (SI), Y0
	VMAXPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ reluFwd
	VZEROUPPER
	RET

// func reluBwdAVX2(x, dy, dx *float32, n int, add int)
// dx += dy where x > 0 (add 1), or dx = dy there and 0 elsewhere (add 0;
// dx may be dy), for n a positive multiple of 8.
TEXT ·reluBwdAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ add+32(FP), AX
	VXORPS Y15, Y15, Y15
reluBwd:
	VMOVUPS (SI), Y0
	VCMPPS $0x1e, Y15, Y0, Y0     // x > 0
	VANDPS (DX), Y0, Y0
	TESTQ AX, AX
	JZ reluBwdSet
	VADDPS (DI), Y0, Y0
reluBwdSet:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ reluBwd
	VZEROUPPER
	RET

// func rowSumAVX2(x *float32, n int) float32
// Σ x[j] for j < n, n a positive multiple of 8, in four vector sums.
TEXT ·rowSumAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
sum32:
	CMPQ CX, $32
	JLT sum8
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP sum32
sum8:
	CMPQ CX, $8
	JLT sumDone
	VADDPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP sum8
sumDone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func axpbAVX2(dst, x *float32, n int, a, b float32, add int)
// dst[j] = a·x[j] + b (+ dst[j] when add is 1) for j < n, n a positive
// multiple of 8.
TEXT ·axpbAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y15
	MOVQ add+32(FP), DX
	TESTQ DX, DX
	JZ axpbSet
axpbAdd:
	VMOVUPS Y15, Y1
	VFMADD231PS (SI), Y14, Y1
	VADDPS (DI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ axpbAdd
	VZEROUPPER
	RET
axpbSet:
	VMOVUPS Y15, Y1
	VFMADD231PS (SI), Y14, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ axpbSet
	VZEROUPPER
	RET

// Exact GELU (ops.go's geluErf and geluErfBack), eight lanes at a time:
// erfconst holds eight copies of each constant of normCDF, then −½ and
// 1/√(2π).
DATA erfconst<>+0(SB)/4, $0x3e6d3388  // p/√2
DATA erfconst<>+4(SB)/4, $0x3e6d3388
DATA erfconst<>+8(SB)/4, $0x3e6d3388
DATA erfconst<>+12(SB)/4, $0x3e6d3388
DATA erfconst<>+16(SB)/4, $0x3e6d3388
DATA erfconst<>+20(SB)/4, $0x3e6d3388
DATA erfconst<>+24(SB)/4, $0x3e6d3388
DATA erfconst<>+28(SB)/4, $0x3e6d3388
DATA erfconst<>+32(SB)/4, $0x3e827906  // a1
DATA erfconst<>+36(SB)/4, $0x3e827906
DATA erfconst<>+40(SB)/4, $0x3e827906
DATA erfconst<>+44(SB)/4, $0x3e827906
DATA erfconst<>+48(SB)/4, $0x3e827906
DATA erfconst<>+52(SB)/4, $0x3e827906
DATA erfconst<>+56(SB)/4, $0x3e827906
DATA erfconst<>+60(SB)/4, $0x3e827906
DATA erfconst<>+64(SB)/4, $0xbe91a98e  // a2
DATA erfconst<>+68(SB)/4, $0xbe91a98e
DATA erfconst<>+72(SB)/4, $0xbe91a98e
DATA erfconst<>+76(SB)/4, $0xbe91a98e
DATA erfconst<>+80(SB)/4, $0xbe91a98e
DATA erfconst<>+84(SB)/4, $0xbe91a98e
DATA erfconst<>+88(SB)/4, $0xbe91a98e
DATA erfconst<>+92(SB)/4, $0xbe91a98e
DATA erfconst<>+96(SB)/4, $0x3fb5f0e3  // a3
DATA erfconst<>+100(SB)/4, $0x3fb5f0e3
DATA erfconst<>+104(SB)/4, $0x3fb5f0e3
DATA erfconst<>+108(SB)/4, $0x3fb5f0e3
DATA erfconst<>+112(SB)/4, $0x3fb5f0e3
DATA erfconst<>+116(SB)/4, $0x3fb5f0e3
DATA erfconst<>+120(SB)/4, $0x3fb5f0e3
DATA erfconst<>+124(SB)/4, $0x3fb5f0e3
DATA erfconst<>+128(SB)/4, $0xbfba00e3  // a4
DATA erfconst<>+132(SB)/4, $0xbfba00e3
DATA erfconst<>+136(SB)/4, $0xbfba00e3
DATA erfconst<>+140(SB)/4, $0xbfba00e3
DATA erfconst<>+144(SB)/4, $0xbfba00e3
DATA erfconst<>+148(SB)/4, $0xbfba00e3
DATA erfconst<>+152(SB)/4, $0xbfba00e3
DATA erfconst<>+156(SB)/4, $0xbfba00e3
DATA erfconst<>+160(SB)/4, $0x3f87dc22  // a5
DATA erfconst<>+164(SB)/4, $0x3f87dc22
DATA erfconst<>+168(SB)/4, $0x3f87dc22
DATA erfconst<>+172(SB)/4, $0x3f87dc22
DATA erfconst<>+176(SB)/4, $0x3f87dc22
DATA erfconst<>+180(SB)/4, $0x3f87dc22
DATA erfconst<>+184(SB)/4, $0x3f87dc22
DATA erfconst<>+188(SB)/4, $0x3f87dc22
DATA erfconst<>+192(SB)/4, $0xbf000000  // −½
DATA erfconst<>+196(SB)/4, $0xbf000000
DATA erfconst<>+200(SB)/4, $0xbf000000
DATA erfconst<>+204(SB)/4, $0xbf000000
DATA erfconst<>+208(SB)/4, $0xbf000000
DATA erfconst<>+212(SB)/4, $0xbf000000
DATA erfconst<>+216(SB)/4, $0xbf000000
DATA erfconst<>+220(SB)/4, $0xbf000000
DATA erfconst<>+224(SB)/4, $0x3ecc422a  // 1/√(2π)
DATA erfconst<>+228(SB)/4, $0x3ecc422a
DATA erfconst<>+232(SB)/4, $0x3ecc422a
DATA erfconst<>+236(SB)/4, $0x3ecc422a
DATA erfconst<>+240(SB)/4, $0x3ecc422a
DATA erfconst<>+244(SB)/4, $0x3ecc422a
DATA erfconst<>+248(SB)/4, $0x3ecc422a
DATA erfconst<>+252(SB)/4, $0x3ecc422a
GLOBL erfconst<>(SB), RODATA|NOPTR, $256

// NORMCDF sets Y1 = Φ(v) from Y0 = v and Y6 = e^(−v²/2), as normCDF:
// t = 1/(1 + p·|v|), h = ½ − ½·e·t·P(t), Φ = ½ + sign(v)·h. It uses Y2, Y3
// and Y7, and expects Y10 = the sign bit, Y11 = 1, Y12 = ½.
#define NORMCDF \
	VANDNPS Y0, Y10, Y1; \
	VMOVAPS Y11, Y2; \
	VFMADD231PS erfconst<>+0(SB), Y1, Y2; \
	VDIVPS Y2, Y11, Y2; \
	VMOVUPS erfconst<>+160(SB), Y7; \
	VFMADD213PS erfconst<>+128(SB), Y2, Y7; \
	VFMADD213PS erfconst<>+96(SB), Y2, Y7; \
	VFMADD213PS erfconst<>+64(SB), Y2, Y7; \
	VFMADD213PS erfconst<>+32(SB), Y2, Y7; \
	VMULPS Y2, Y7, Y7; \
	VMULPS Y6, Y7, Y7; \
	VMOVAPS Y12, Y1; \
	VFNMADD231PS Y7, Y12, Y1; \
	VANDPS Y0, Y10, Y3; \
	VORPS Y3, Y1, Y1; \
	VADDPS Y12, Y1, Y1

// func geluErfFwdAVX2(x, e, y *float32, n int)
// e = e^(−x²/2), y = x·Φ(x) for n a positive multiple of 8.
TEXT ·geluErfFwdAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ e+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS geluconst<>+12(SB), Y12 // ½
	VBROADCASTSS geluconst<>+16(SB), Y11 // 1
	VBROADCASTSS geluconst<>+20(SB), Y10 // the sign bit
	VMOVUPS attnconst<>+0(SB), Y9        // −87
	VMOVUPS attnconst<>+96(SB), Y8       // 1.5·2^23
erfFwd:
	VMOVUPS (SI), Y0                          // v
	VMULPS Y0, Y0, Y3                         // v²
	VMULPS erfconst<>+192(SB), Y3, Y3         // a = −½v²
	VCMPPS $5, Y9, Y3, Y13                    // a ≥ −87 (or NaN): e is not 0 to float32
	VMAXPS Y3, Y9, Y3
	EXPA
	VMULPS Y4, Y6, Y6
	VANDPS Y13, Y6, Y6                        // e, 0 where a < −87 (as expShift)
	VMOVUPS Y6, (DI)
	NORMCDF
	VMULPS Y0, Y1, Y1                         // v·Φ(v)
	VMOVUPS Y1, (DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ erfFwd
	VZEROUPPER
	RET

// func geluErfBwdAVX2(x, e, dy, dx *float32, n int)
// dx += dy·(Φ(x) + x·e/√(2π)) for n a positive multiple of 8.
TEXT ·geluErfBwdAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ e+8(FP), DI
	MOVQ dy+16(FP), DX
	MOVQ dx+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS geluconst<>+12(SB), Y12 // ½
	VBROADCASTSS geluconst<>+16(SB), Y11 // 1
	VBROADCASTSS geluconst<>+20(SB), Y10 // the sign bit
erfBwd:
	VMOVUPS (SI), Y0                      // v
	VMOVUPS (DI), Y6                      // e
	NORMCDF
	VMULPS Y0, Y6, Y3                     // v·e
	VFMADD231PS erfconst<>+224(SB), Y3, Y1 // Φ + v·e/√(2π)
	VMOVUPS (R8), Y4
	VFMADD231PS (DX), Y1, Y4              // dx + dy·derivative
	VMOVUPS Y4, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	SUBQ $8, CX
	JNZ erfBwd
	VZEROUPPER
	RET

// func swigluFwdAVX2(gate, up, y *float32, n int)
// y = g·u/(1 + e^(−g)) for n a positive multiple of 8; −g is clamped to
// [−87, 88] for the exponential. Where −g > 88, e^(−g) overflows float32
// and y is g·0·u: ±0, or NaN for g = −Inf (the Go loop's and PyTorch's).
TEXT ·swigluFwdAVX2(SB), NOSPLIT, $0-32
	MOVQ gate+0(FP), SI
	MOVQ up+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS geluconst<>+16(SB), Y11 // 1
	VBROADCASTSS geluconst<>+20(SB), Y10 // the sign bit
	VMOVUPS attnconst<>+0(SB), Y9        // −87
	VMOVUPS attnconst<>+32(SB), Y7       // 88
	VMOVUPS attnconst<>+96(SB), Y8       // 1.5·2^23
swiFwd:
	VMOVUPS (SI), Y0    // g
	VXORPS Y10, Y0, Y3  // a = −g
	VCMPPS $0x1e, Y7, Y3, Y13 // a > 88 (ordered): the lanes that overflow
	VMAXPS Y3, Y9, Y3
	VMINPS Y3, Y7, Y3
	EXPA
	VMULPS Y4, Y6, Y6   // e^a
	VADDPS Y11, Y6, Y6  // 1 + e^(−g)
	VDIVPS Y6, Y0, Y1   // silu(g)
	VXORPS Y2, Y2, Y2
	VMULPS Y2, Y0, Y2   // g·0
	VANDPS Y13, Y2, Y2
	VANDNPS Y1, Y13, Y1 // silu(g) where a ≤ 88
	VORPS Y2, Y1, Y1
	VMULPS (DI), Y1, Y1 // · u
	VMOVUPS Y1, (DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ swiFwd
	VZEROUPPER
	RET

// func quickgeluFwdAVX2(x, y *float32, n int): y = x·σ(1.702x), eight lanes
// at a time, as quickGELUGo computes it (x·0 where e^(−1.702x) overflows).
TEXT ·quickgeluFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ n+16(FP), CX
	VBROADCASTSS geluconst<>+16(SB), Y11 // 1
	VBROADCASTSS geluconst<>+20(SB), Y10 // the sign bit
	VMOVUPS attnconst<>+0(SB), Y9        // −87
	VMOVUPS attnconst<>+32(SB), Y7       // 88
	VMOVUPS attnconst<>+96(SB), Y8       // 1.5·2^23
	MOVL $0x3fd9db23, AX                 // 1.702
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
qgFwd:
	VMOVUPS (SI), Y0    // x
	VMULPS Y12, Y0, Y3  // 1.702·x
	VXORPS Y10, Y3, Y3  // a = −1.702·x
	VCMPPS $0x1e, Y7, Y3, Y13 // a > 88 (ordered): the lanes that overflow
	VMAXPS Y3, Y9, Y3
	VMINPS Y3, Y7, Y3
	EXPA
	VMULPS Y4, Y6, Y6   // e^a
	VADDPS Y11, Y6, Y6  // 1 + e^a
	VDIVPS Y6, Y0, Y1   // x·σ(1.702x)
	VXORPS Y2, Y2, Y2
	VMULPS Y2, Y0, Y2   // x·0
	VANDPS Y13, Y2, Y2
	VANDNPS Y1, Y13, Y1 // x·σ(1.702x) where a ≤ 88
	VORPS Y2, Y1, Y1
	VMOVUPS Y1, (DX)
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ qgFwd
	VZEROUPPER
	RET

DATA lanes8<>+0(SB)/8, $0
DATA lanes8<>+8(SB)/8, $1
DATA lanes8<>+16(SB)/8, $2
DATA lanes8<>+24(SB)/8, $3
DATA lanes8<>+32(SB)/8, $4
DATA lanes8<>+40(SB)/8, $5
DATA lanes8<>+48(SB)/8, $6
DATA lanes8<>+56(SB)/8, $7
GLOBL lanes8<>(SB), RODATA|NOPTR, $64

// func dropMask512(m *float32, n int, ctr, thr uint64, keep float32)
// m[j] = keep when the top 24 bits of Mix64(ctr + j·Golden64) are >= thr,
// else 0, for n a positive multiple of 8: SplitMix64's draws, eight 64-bit
// lanes at a time (AVX-512 F, DQ and VL).
TEXT ·dropMask512(SB), NOSPLIT, $0-36
	MOVQ m+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ ctr+16(FP), AX
	VPBROADCASTQ AX, Z0
	MOVQ $0x9e3779b97f4a7c15, AX
	VPBROADCASTQ AX, Z1
	VPMULLQ lanes8<>(SB), Z1, Z2 // j·Golden64
	VPADDQ Z2, Z0, Z0            // the draws' counters
	SHLQ $3, AX
	VPBROADCASTQ AX, Z1          // 8·Golden64
	MOVQ $0xbf58476d1ce4e5b9, AX
	VPBROADCASTQ AX, Z3
	MOVQ $0x94d049bb133111eb, AX
	VPBROADCASTQ AX, Z4
	MOVQ thr+24(FP), AX
	VPBROADCASTQ AX, Z5
	VBROADCASTSS keep+32(FP), Y6
dmLoop:
	VPSRLQ $30, Z0, Z7
	VPXORQ Z7, Z0, Z7
	VPMULLQ Z3, Z7, Z7
	VPSRLQ $27, Z7, Z8
	VPXORQ Z8, Z7, Z7
	VPMULLQ Z4, Z7, Z7
	VPSRLQ $31, Z7, Z8
	VPXORQ Z8, Z7, Z7
	VPSRLQ $40, Z7, Z7           // the top 24 bits
	VPCMPUQ $5, Z5, Z7, K1       // >= thr: kept
	VMOVAPS.Z Y6, K1, Y9
	VMOVUPS Y9, (DI)
	VPADDQ Z1, Z0, Z0
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ dmLoop
	VZEROUPPER
	RET

// MUL64 sets z = z·c (mod 2⁶⁴) in each 64-bit lane, from c's low and high
// 32 bits (lo, hi, in the low half of each lane): lo(z)·lo + (hi(z)·lo +
// lo(z)·hi)·2³², as AVX2 has no 64-bit multiply.
#define MUL64(z, lo, hi, t0, t1, t2) \
	VPMULUDQ lo, z, t0 \
	VPSRLQ $32, z, t1  \
	VPMULUDQ lo, t1, t1 \
	VPMULUDQ hi, z, t2 \
	VPADDQ t2, t1, t1  \
	VPSLLQ $32, t1, t1 \
	VPADDQ t1, t0, z

// MIX64 is tensor.Mix64 (SplitMix64's output function) in four 64-bit lanes.
#define MIX64(z, t0, t1, t2) \
	VPSRLQ $30, z, t0 \
	VPXOR t0, z, z    \
	MUL64(z, Y3, Y4, t0, t1, t2) \
	VPSRLQ $27, z, t0 \
	VPXOR t0, z, z    \
	MUL64(z, Y5, Y6, t0, t1, t2) \
	VPSRLQ $31, z, t0 \
	VPXOR t0, z, z

DATA evens<>+0(SB)/4, $0
DATA evens<>+4(SB)/4, $2
DATA evens<>+8(SB)/4, $4
DATA evens<>+12(SB)/4, $6
DATA evens<>+16(SB)/4, $0
DATA evens<>+20(SB)/4, $2
DATA evens<>+24(SB)/4, $4
DATA evens<>+28(SB)/4, $6
GLOBL evens<>(SB), RODATA|NOPTR, $32

// func dropMaskAVX2(m *float32, n int, ctr, thr uint64, keep float32)
// dropMask512 on AVX2: four 64-bit lanes, two vectors of them a step.
TEXT ·dropMaskAVX2(SB), NOSPLIT, $64-36
	MOVQ m+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ ctr+16(FP), AX
	MOVQ $0x9e3779b97f4a7c15, DX
	MOVQ AX, 0(SP)
	ADDQ DX, AX
	MOVQ AX, 8(SP)
	ADDQ DX, AX
	MOVQ AX, 16(SP)
	ADDQ DX, AX
	MOVQ AX, 24(SP)
	ADDQ DX, AX
	MOVQ AX, 32(SP)
	ADDQ DX, AX
	MOVQ AX, 40(SP)
	ADDQ DX, AX
	MOVQ AX, 48(SP)
	ADDQ DX, AX
	MOVQ AX, 56(SP)
	VMOVDQU 0(SP), Y0            // the counters of lanes 0..3
	VMOVDQU 32(SP), Y1           // and 4..7
	SHLQ $3, DX
	VMOVQ DX, X2
	VPBROADCASTQ X2, Y2          // 8·Golden64
	MOVQ $0x1ce4e5b9, AX
	VMOVQ AX, X3
	VPBROADCASTQ X3, Y3
	MOVQ $0xbf58476d, AX
	VMOVQ AX, X4
	VPBROADCASTQ X4, Y4
	MOVQ $0x133111eb, AX
	VMOVQ AX, X5
	VPBROADCASTQ X5, Y5
	MOVQ $0x94d049bb, AX
	VMOVQ AX, X6
	VPBROADCASTQ X6, Y6
	MOVQ thr+24(FP), AX
	DECQ AX
	VMOVQ AX, X7
	VPBROADCASTQ X7, Y7          // thr − 1
	VBROADCASTSS keep+32(FP), Y8
	VMOVDQU evens<>(SB), Y9
dm2Loop:
	VMOVDQA Y0, Y10
	MIX64(Y10, Y12, Y13, Y14)
	VPSRLQ $40, Y10, Y10         // the top 24 bits
	VPCMPGTQ Y7, Y10, Y10        // > thr − 1: kept
	VMOVDQA Y1, Y11
	MIX64(Y11, Y12, Y13, Y14)
	VPSRLQ $40, Y11, Y11
	VPCMPGTQ Y7, Y11, Y11
	VPERMD Y10, Y9, Y10          // one 32-bit mask per lane, in the low half
	VPERMD Y11, Y9, Y11
	VPERM2I128 $0x20, Y11, Y10, Y10
	VANDPS Y8, Y10, Y10
	VMOVUPS Y10, (DI)
	VPADDQ Y2, Y0, Y0
	VPADDQ Y2, Y1, Y1
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ dm2Loop
	VZEROUPPER
	RET

// func reluDropBwdAVX2(y, dy, dx *float32, n int, keep float32, add int)
// dx = dy·keep where y > 0, else +0 (dx += when add is 1), for n a
// positive multiple of 8.
TEXT ·reluDropBwdAVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	VBROADCASTSS keep+32(FP), Y14
	MOVQ add+40(FP), AX
	VXORPS Y15, Y15, Y15
rdBwd:
	VMOVUPS (SI), Y0
	VCMPPS $0x1e, Y15, Y0, Y0     // y > 0: the ReLU passed it and the dropout kept it
	VMULPS (DX), Y14, Y1
	VANDPS Y1, Y0, Y0
	TESTQ AX, AX
	JZ rdBwdSet
	VADDPS (DI), Y0, Y0
rdBwdSet:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ rdBwd
	VZEROUPPER
	RET
