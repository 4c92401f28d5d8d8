namespace VmaEngine.Vma;

/// <summary>
/// The memory counters of an address space, in pages, as the kernel keeps them in <c>struct mm_struct</c> and
/// <c>/proc/PID/status</c> shows them (in kB, four per page): <see cref="TotalVm"/> is <c>VmSize</c>,
/// <see cref="LockedVm"/> <c>VmLck</c>, <see cref="PinnedVm"/> <c>VmPin</c>, <see cref="DataVm"/> <c>VmData</c>,
/// <see cref="StackVm"/> <c>VmStk</c>, and <see cref="ExecVm"/> is <c>VmExe</c> + <c>VmLib</c> (the kernel splits
/// it by the text segment's bounds, which a guest address space does not have).
/// </summary>
/// <param name="TotalVm"><c>total_vm</c>: every mapped page.</param>
/// <param name="LockedVm">
/// <c>locked_vm</c>: pages locked by mlock, mlock2, mlockall, MAP_LOCKED or <c>mlockall(MCL_FUTURE)</c>, counted as
/// the kernel counts them: VM_SPECIAL, hugetlb and VM_DROPPABLE VMAs are never counted, and a locked range moved with
/// <c>MREMAP_DONTUNMAP</c> stays counted at both places although the source loses VM_LOCKED.
/// </param>
/// <param name="PinnedVm">
/// <c>pinned_vm</c>: pages pinned long-term by drivers (RDMA, io_uring buffers); no system call the engine models pins
/// pages, so it is always 0, as in a process that uses none of those.
/// </param>
/// <param name="DataVm"><c>data_vm</c>: pages of private writable VMAs that are not stack (<c>is_data_mapping</c>).</param>
/// <param name="ExecVm"><c>exec_vm</c>: pages of executable VMAs that are neither writable nor stack (<c>is_exec_mapping</c>).</param>
/// <param name="StackVm"><c>stack_vm</c>: pages of VM_GROWSDOWN VMAs (<c>is_stack_mapping</c>).</param>
public readonly record struct MmCounters(ulong TotalVm, ulong LockedVm, ulong PinnedVm, ulong DataVm, ulong ExecVm, ulong StackVm);
