using System;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>madvise of a backed space: the advices that drop pages drop host pages where the engine's walk applied them.</summary>
public sealed unsafe partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Madvise(ulong, ulong, Advice)"/>. The advices that drop pages (<see cref="Advice.DontNeed"/>,
    /// <see cref="Advice.DontNeedLocked"/>, <see cref="Advice.Free"/>, <see cref="Advice.Remove"/>) drop the host
    /// pages of every part the engine's walk advised (see <see cref="Madvise(ulong, ulong, DropAdvice)"/>);
    /// <see cref="Advice.GuardInstall"/> makes the marked pages inaccessible on the host and drops their contents, and
    /// <see cref="Advice.GuardRemove"/> gives them their VMA's protection back; the others change VMA flags, whose
    /// splits and merges are mirrored.
    /// </summary>
    public Errno Madvise(ulong address, ulong length, Advice advice)
    {
        if (advice == Advice.GuardInstall)
        {
            return MadviseGuardInstall(address, length);
        }

        if (advice is not (Advice.DontNeed or Advice.DontNeedLocked or Advice.Free or Advice.Remove))
        {
            return MirrorKnown(address, length, () => Space.Madvise(address, length, advice));
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = Space.Madvise(address, length, advice, out ulong advisedEnd);
            try
            {
                DropHostPages(address, advisedEnd, advice);
                return error;
            }
            catch (OsPagesException)
            {
                // The kernel's walk stops at the first failure too, having advised what lies below it.
                return Errno.ENOMEM;
            }
        }
    }

    /// <summary>
    /// madvise with an advice that drops pages (<c>madvise_dontneed_free</c>, <c>madvise_remove</c>), with the
    /// engine's errno (the engine alone checks the VMAs). Dropped private anonymous pages read as zero, dropped pages
    /// of a private file mapping read the file again, a shared object or file keeps its contents under
    /// <see cref="DropAdvice.DontNeed"/> and loses them, in every mapping, under <see cref="DropAdvice.Remove"/>.
    /// <see cref="DropAdvice.Free"/> drops at once, which the guest cannot tell from a lazily freed page. When the
    /// host refuses a drop, the call fails with ENOMEM, the parts below it dropped (as the kernel's walk stops).
    /// </summary>
    public Errno Madvise(ulong address, ulong length, DropAdvice advice) => Madvise(address, length, (Advice)advice);

    /// <summary>
    /// Drops the host pages of the mapped parts of [<paramref name="start"/>, <paramref name="end"/>), which the
    /// engine advised: one host madvise over the whole range (holes are reservation, whose pages it leaves as they
    /// are), or, to punch holes, one per VMA part. Under <see cref="_gate"/>.
    /// </summary>
    private void DropHostPages(ulong start, ulong end, Advice advice)
    {
        if (start >= end)
        {
            return;
        }

        if (advice != Advice.Remove)
        {
            _host.DropPages(HostAddressOf(start), (nuint)(end - start));
            return;
        }

        ulong address = start;
        while (address < end)
        {
            ulong vmaStart;
            ulong vmaEnd;
            Space.MmapLock.ReadLock();
            try
            {
                if (Space.Tree.FindAtOrAfter(address, end, out vmaStart, out vmaEnd) == null)
                {
                    return;
                }
            }
            finally
            {
                Space.MmapLock.ReadUnlock();
            }

            ulong from = Math.Max(vmaStart, address);
            ulong to = Math.Min(vmaEnd, end);
            _host.RemovePages(HostAddressOf(from), (nuint)(to - from));
            address = to;
        }
    }
}
