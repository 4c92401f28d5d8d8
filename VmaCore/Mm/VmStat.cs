using System.Diagnostics;

namespace VmaEngine.Vma;

/// <summary>
/// The page counts <c>vm_stat_account</c> keeps (Linux v6.15 <c>mm/mmap.c</c>, with <c>is_exec_mapping</c>,
/// <c>is_stack_mapping</c> and <c>is_data_mapping</c> of <c>mm/internal.h</c>): every mapped page in
/// <see cref="TotalVm"/>, and each in at most one of <see cref="ExecVm"/>, <see cref="StackVm"/> and
/// <see cref="DataVm"/>, by its VMA's flags. The mm holds one (<c>total_vm</c>, <c>exec_vm</c>, <c>stack_vm</c>,
/// <c>data_vm</c>), and an unmap gathers one for the VMAs it removes (<c>struct vma_munmap_struct</c>). Written
/// under mmap_lock for write.
/// </summary>
internal struct VmStat
{
    /// <summary><c>total_vm</c>: every page mapped.</summary>
    public ulong TotalVm;

    /// <summary><c>exec_vm</c>: pages of VMAs that are executable, not writable and not stack.</summary>
    public ulong ExecVm;

    /// <summary><c>stack_vm</c>: pages of VM_STACK (VM_GROWSDOWN on x86-64) VMAs.</summary>
    public ulong StackVm;

    /// <summary><c>data_vm</c>: pages of private writable VMAs that are not stack.</summary>
    public ulong DataVm;

    /// <summary><c>is_exec_mapping</c>: executable, neither writable nor stack.</summary>
    public static bool IsExecMapping(VmFlags flags) => (flags & (VmFlags.Exec | VmFlags.Write | VmFlags.Stack)) == VmFlags.Exec;

    /// <summary><c>is_stack_mapping</c>: VM_STACK.</summary>
    public static bool IsStackMapping(VmFlags flags) => (flags & VmFlags.Stack) == VmFlags.Stack;

    /// <summary><c>is_data_mapping</c>: writable, neither shared nor stack.</summary>
    public static bool IsDataMapping(VmFlags flags) => (flags & (VmFlags.Write | VmFlags.Shared | VmFlags.Stack)) == VmFlags.Write;

    /// <summary>
    /// <c>vm_stat_account</c>: adds <paramref name="pages"/> (negative: removes them) of a VMA with
    /// <paramref name="flags"/> to <see cref="TotalVm"/> and to the one class the flags fall in, if any.
    /// </summary>
    public void Account(VmFlags flags, long pages)
    {
        ulong delta = unchecked((ulong)pages);
        TotalVm += delta;
        if (IsExecMapping(flags))
        {
            ExecVm += delta;
        }
        else if (IsStackMapping(flags))
        {
            StackVm += delta;
        }
        else if (IsDataMapping(flags))
        {
            DataVm += delta;
        }
    }

    /// <summary>The stat accounting of <c>vms_complete_munmap_vmas</c>: takes the pages an unmap gathered away.</summary>
    public void Remove(in VmStat gathered)
    {
        Debug.Assert(
            gathered.TotalVm <= TotalVm && gathered.ExecVm <= ExecVm && gathered.StackVm <= StackVm && gathered.DataVm <= DataVm,
            "an unmap removed more pages than the mm counts");
        TotalVm -= gathered.TotalVm;
        ExecVm -= gathered.ExecVm;
        StackVm -= gathered.StackVm;
        DataVm -= gathered.DataVm;
    }
}
