//go:build linux

#include "go_asm.h"
#include "textflag.h"

// rescueHandler is the process's SIGBUS handler while a segment is
// registered for unguarded reads (rescue.go). The kernel calls it with the
// C convention: DI = signal number, SI = *siginfo, DX = *ucontext, and the
// sa_restorer address on the stack. It runs on the signal stack and must
// not touch Go's runtime, so it uses only caller-saved registers and the
// mmap system call.
//
// A fault of the kernel's own (si_code BUS_ADRERR, 2) whose address si_addr
// (siginfo offset 16) lies in a registered range [start, end) is a page past
// the end of a truncated file: mmap puts private read-only zero pages over
// [page of si_addr, end), marks the segment lost (*lost |= 2) and returns,
// so that the faulting load runs again and reads zero. Anything else, and a
// failed mmap, goes on to the handler that was installed before, Go's own,
// with the registers and stack it was called with.
//
// rescueTab holds rescueMax pointers (nil: free) to immutable
// rescueRange{start, end uintptr; lost *atomic.Uint32}; the field offsets
// come from go_asm.h, which the compiler writes from rescue.go, so the two
// cannot disagree. The siginfo offsets (8: si_code, 16: si_addr) are the
// kernel's ABI.
TEXT ·rescueHandler(SB), NOSPLIT|NOFRAME, $0-0
	CMPL	8(SI), $2
	JNE	chain
	MOVQ	16(SI), R8
	LEAQ	·rescueTab(SB), R9
	MOVQ	$const_rescueMax, R10

scan:
	MOVQ	0(R9), R11
	TESTQ	R11, R11
	JEQ	next
	CMPQ	R8, rescueRange_start(R11)
	JCS	next
	CMPQ	R8, rescueRange_end(R11)
	JCS	found

next:
	ADDQ	$8, R9
	DECQ	R10
	JNE	scan

chain:
	MOVQ	·rescueNext(SB), AX
	JMP	AX

found:
	MOVQ	rescueRange_lost(R11), AX
	LOCK
	ORL	$2, (AX)
	PUSHQ	DI
	PUSHQ	SI
	PUSHQ	DX
	MOVQ	R8, DI
	ANDQ	·rescuePageMask(SB), DI
	MOVQ	rescueRange_end(R11), SI
	SUBQ	DI, SI
	MOVQ	$1, DX          // PROT_READ
	MOVQ	$0x4032, R10    // MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS|MAP_NORESERVE
	MOVQ	$-1, R8
	XORL	R9, R9
	MOVL	$9, AX          // SYS_mmap
	SYSCALL
	POPQ	DX
	POPQ	SI
	POPQ	DI
	CMPQ	AX, $-4095
	JCC	chain           // an error number: let Go report the fault
	RET

// func rescueHandlerPC() uintptr
TEXT ·rescueHandlerPC(SB), NOSPLIT, $0-8
	MOVQ	$·rescueHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
