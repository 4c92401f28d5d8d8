using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// Guard pages of a backed space (<c>MADV_GUARD_INSTALL</c>, <c>MADV_GUARD_REMOVE</c>): a page with a guard marker
/// is inaccessible on the host as well as in the table, so a host whose guest runs through the host MMU traps on it.
/// The markers live in the engine (<see cref="AddressSpace.GuardPages"/>), which moves them with mremap, drops them
/// with munmap and copies them to a fork child; every mirror splits its VMA parts at them, so the host follows.
/// </summary>
public sealed partial class GuestMemory
{
    /// <summary>
    /// Adds the VMA part <paramref name="part"/> as runs split at the guard markers inside it: marked pages get
    /// <see cref="TranslationEntry.Guard"/> and no host access, the others keep the part's flags and protection.
    /// Under mmap_lock for read.
    /// </summary>
    private void AddGuardedRuns(MirrorRun part, ulong changedStart, ulong changedEnd)
    {
        GuardPageSet guards = Space.GuardPages;
        ulong cursor = part.Start;
        while (cursor < part.End)
        {
            ulong marked = guards.FirstIn(cursor, part.End);
            AddRuns(part.Slice(cursor, marked, changed: false), changedStart, changedEnd);
            ulong markedEnd = guards.EndOfMarkedRun(marked, part.End);
            AddRuns(part.Slice(marked, markedEnd, changed: false) with { EntryFlags = TranslationEntry.Present | TranslationEntry.Guard, Host = HostProtection.None }, changedStart, changedEnd);
            cursor = markedEnd;
        }
    }

    /// <summary>
    /// <c>MADV_GUARD_INSTALL</c> on a backed space: the engine installs the markers (zapping the pages' contents,
    /// as the kernel's <c>madvise_guard_install</c> does), the mirror takes the marked pages' access away in the
    /// table and on the host, then the host drops their pages, so after <c>MADV_GUARD_REMOVE</c> private anonymous
    /// memory reads zero and a file or shared object its own contents. The drop is repeated once if the host
    /// refuses it (it is idempotent); a second refusal propagates as the <see cref="OsPagesException"/>, the pages
    /// still inaccessible.
    /// </summary>
    private Errno MadviseGuardInstall(ulong address, ulong length)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = Space.Madvise(address, length, Advice.GuardInstall, out ulong advisedEnd);
            MirrorCommitted(address, SaturatingEnd(address, length), MirrorMode.Known);
            ulong start = System.Math.Clamp(address, Low, High);
            ulong end = System.Math.Clamp(advisedEnd, start, High);
            if (start < end)
            {
                try
                {
                    _host.DropPages(HostAddressOf(start), (nuint)(end - start));
                }
                catch (OsPagesException)
                {
                    _host.DropPages(HostAddressOf(start), (nuint)(end - start));
                }
            }

            return error;
        }
    }
}
