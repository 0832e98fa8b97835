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
# PyTorch allocates a fresh tensor for nearly every op, and glibc's malloc
# maps blocks of 128 KB and more (up to 32 MB as its threshold adapts) on
# their own and unmaps them when they are freed, so the next step faults
# their pages in again. On this virtual machine such a fault costs several
# microseconds (the guest reports freed pages to its host): the faults made
# PyTorch's base training step 1.1–1.4× slower, and its causal attention
# at T = 1,024 several times (session 26). These two settings keep freed
# memory in the process (no blocks mapped on their own, the heap never
# trimmed), which is what PyTorch's CPU tuning guide advises a switch of
# allocator for: TCMalloc ran as fast here; jemalloc, which returns memory
# on a timer, was slower than glibc's default. attn recycles its own
# buffers (a few hundred faults a training step), so the setting leaves it
# as it is.
core+=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736)
export ATTN_CPU="${CPU:-}"
