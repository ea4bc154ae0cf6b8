	.text
	.globl _Py_trampoline_func_start
_Py_trampoline_func_start:
	hint 25
	stp x29, x30, [sp, #-16]!
	mov x29, sp
	blr x3
	ldp x29, x30, [sp], #16
	hint 29
	ret
	.globl _Py_trampoline_func_end
_Py_trampoline_func_end:
	.section .note.GNU-stack,"",@progbits
