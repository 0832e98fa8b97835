# Sourced by the scripts that run attn beside PyTorch: sets core, the
# environment PyTorch's fair run needs, and holds both sides to AVX2 when
# CPU=avx2 (as on a machine without AVX-512).
#
# PyTorch's fair setting is its best OpenBLAS kernel. On this virtual CPU
# OpenBLAS's own detection falls back to Prescott (SSE3), so with AVX-512
# present we name its AVX-512 kernel; the JSON lines report the kernel that
# ran.
core=()
grep -qw avx512f /proc/cpuinfo && core=(OPENBLAS_CORETYPE=SkylakeX)
case "${CPU:-}" in
"") ;;
avx2) core=(OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2) ;;
*) echo "CPU=$CPU: want avx2 (or unset, for the best this CPU runs)" >&2; exit 2 ;;
esac
export ATTN_CPU="${CPU:-}"
