using System;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using VmaEngine.Native;
using VmaEngine.Vma.Files;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// Mirroring: after the engine changed the VMAs of a range, the host mappings and the translation table of the range
/// and of the VMAs on either side (a merge may have given them an anon_vma) are brought in line with the VMAs.
/// </summary>
public sealed unsafe partial class GuestMemory
{
    /// <summary>
    /// Makes the host and the table follow the VMAs over [<paramref name="start"/>, <paramref name="end"/>), which
    /// the last operation changed as <paramref name="mode"/> says, and over the VMAs that touch it. Under <see cref="_gate"/>.
    /// </summary>
    /// <param name="start">The first address the operation changed.</param>
    /// <param name="end">The end of the range it changed.</param>
    /// <param name="mode">What the host holds in that range now.</param>
    /// <param name="movedWith">
    /// For <see cref="MirrorMode.Moved"/>: the host protection the moved pages brought along, when it is known (the
    /// source was one run and no host call has failed yet); a run that needs exactly that is not reprotected.
    /// </param>
    private void Mirror(ulong start, ulong end, MirrorMode mode, HostProtection? movedWith = null)
    {
        start = Math.Clamp(start, Low, High);
        end = Math.Clamp(end, start, High);
        CollectRuns(start, end);
        try
        {
            foreach (MirrorRun run in _runs)
            {
                if (run.Changed && mode != MirrorMode.Known)
                {
                    ReplaceRun(run, mode, _hostMatchesTable ? movedWith : null);
                }
                else if (!_table.AllFlagsEqual(run.Start, run.End, run.EntryFlags))
                {
                    UpdateRun(run);
                }
            }
        }
        catch (OsPagesException)
        {
            // A host call failed partway (an mprotect may change part of its range): from now on the host's
            // protections are no longer inferred from the table.
            _hostMatchesTable = false;
            throw;
        }
    }

    /// <summary>
    /// A changed run whose host contents are gone or moved: closed in the table, remapped or reprotected (unless the
    /// moved pages came with the protection <paramref name="movedWith"/> it needs), reopened.
    /// </summary>
    private void ReplaceRun(MirrorRun run, MirrorMode mode, HostProtection? movedWith)
    {
        CloseInTable(run.Start, run.End);
        nint host = HostAddressOf(run.Start);
        nuint size = (nuint)(run.End - run.Start);
        if (!run.Present)
        {
            _host.ReturnToReservation(host, size);
            return;
        }

        if (mode == MirrorMode.Fresh)
        {
            MapBacking(run, host, size);
        }
        else if (run.Host != movedWith)
        {
            _host.Protect(host, size, run.Host);
        }

        _table.Fill(run.Start, run.End, run.EntryFlags & ~TranslationEntry.Present, present: true);
    }

    /// <summary>Makes [<paramref name="start"/>, <paramref name="end"/>) a hole in the table, unless it is one already (a hole caches no entry).</summary>
    private void CloseInTable(ulong start, ulong end)
    {
        if (!_table.AllFlagsEqual(start, end, 0))
        {
            _table.Fill(start, end, 0, present: false);
        }
    }

    /// <summary>
    /// The host protection of the pages of [<paramref name="start"/>, <paramref name="end"/>) as the table says,
    /// when the table holds one run there that allows some access and no host call has failed; else null.
    /// </summary>
    private HostProtection? HostProtectionBefore(ulong start, ulong end)
    {
        ulong flags = _table.FlagsAt(start);
        bool known = _hostMatchesTable && (flags & TranslationEntry.AccessMask) != 0 && _table.AllFlagsEqual(start, end, flags);
        return known ? HostProtectionOf(AccessOf(flags)) : null;
    }

    /// <summary>
    /// Maps what the run's VMA maps over the host range [<paramref name="host"/>, +<paramref name="size"/>): its
    /// host file or memfd at the run's offset, shared or private, else fresh private anonymous memory.
    /// </summary>
    private void MapBacking(MirrorRun run, nint host, nuint size)
    {
        if (run.FileId == 0)
        {
            _host.MapAnonymous(host, size, run.Host);
            return;
        }

        SafeFileHandle handle = HostFiles.HandleOf(run.FileId)
            ?? throw new InvalidOperationException($"The file mapped at guest {run.Start:x} has no host handle: GuestMemory maps only files opened with FileRegistry.OpenHost.");
        _host.MapFile(host, size, run.Host, handle, run.FileOffset, run.Shared);
    }

    /// <summary>
    /// A run whose entries differ from its VMA: narrowed in the table before the host takes access away, reprotected
    /// (or returned to the reservation when its VMA is gone), then given its new entries.
    /// </summary>
    private void UpdateRun(MirrorRun run)
    {
        nint host = HostAddressOf(run.Start);
        nuint size = (nuint)(run.End - run.Start);
        if (!run.Present)
        {
            _table.Fill(run.Start, run.End, 0, present: false);
            _host.ReturnToReservation(host, size);
            return;
        }

        _table.Narrow(run.Start, run.End, run.EntryFlags & TranslationEntry.AccessMask);
        _host.Protect(host, size, run.Host);
        _table.Fill(run.Start, run.End, run.EntryFlags & ~TranslationEntry.Present, present: true);
    }

    /// <summary>
    /// Fills <see cref="_runs"/> with the holes and VMA parts of [<paramref name="start"/>, <paramref name="end"/>)
    /// widened to the VMAs that contain <paramref name="start"/> - 1 and <paramref name="end"/>, split at
    /// <paramref name="start"/> and <paramref name="end"/>. Reads the tree under mmap_lock for read.
    /// </summary>
    private void CollectRuns(ulong start, ulong end)
    {
        _runs.Clear();
        Space.MmapLock.ReadLock();
        try
        {
            VmArea* before = start > Low ? Space.Tree.Load(start - 1) : null;
            VmArea* after = end < High ? Space.Tree.Load(end) : null;
            ulong low = before != null ? Math.Max(before->VmStart, Low) : start;
            ulong high = after != null ? Math.Min(after->VmEnd, High) : end;
            ulong address = low;
            while (address < high)
            {
                VmArea* vma = Space.Tree.FindAtOrAfter(address, high, out ulong vmaStart, out ulong vmaEnd);
                ulong runEnd = vma == null ? high : Math.Max(vmaStart, address);
                AddRuns(new MirrorRun(address, runEnd, 0, HostProtection.None, false, 0, 0, false), start, end);
                if (vma == null)
                {
                    break;
                }

                ulong flags = EntryFlagsOf(vma);
                ulong partStart = Math.Max(vmaStart, address);
                runEnd = Math.Min(vmaEnd, high);
                VmFile* file = vma->VmFile;
                ulong offset = file == null ? 0 : (vma->VmPgoff << MmConstants.PageShift) + (partStart - vmaStart);
                bool shared = (vma->VmFlags & VmFlags.MayShare) != 0;

                // A hugetlbfs file has no page to give in this model (every fault is SIGBUS), so no host object backs it.
                int backingId = file == null || file->Kind == VmFileKind.HugeTlb ? 0 : file->Id;
                var part = new MirrorRun(partStart, runEnd, flags, HostProtectionOf(AccessOf(flags)), false, backingId, offset, shared);
                // Pages past the end of the object (a shared anonymous mapping grown by mremap, a file mapping past
                // i_size) are SIGBUS: present without access in the table and on the host, so every access faults.
                ulong objectEnd = file == null ? runEnd : Math.Clamp(AddressSpace.FileEndAddress(vma, file), partStart, runEnd);
                AddGuardedRuns(part with { End = objectEnd }, start, end);
                AddGuardedRuns(part.Slice(objectEnd, runEnd, changed: false) with { EntryFlags = TranslationEntry.Present, Host = HostProtection.None }, start, end);
                address = runEnd;
            }
        }
        finally
        {
            Space.MmapLock.ReadUnlock();
        }
    }

    /// <summary>Adds <paramref name="whole"/> as up to three runs split at the changed range's ends.</summary>
    private void AddRuns(MirrorRun whole, ulong changedStart, ulong changedEnd)
    {
        ulong changedFrom = Math.Clamp(changedStart, whole.Start, whole.End);
        ulong changedTo = Math.Clamp(changedEnd, whole.Start, whole.End);
        AddRun(whole.Slice(whole.Start, changedFrom, changed: false));
        AddRun(whole.Slice(changedFrom, changedTo, changed: true));
        AddRun(whole.Slice(changedTo, whole.End, changed: false));
    }

    /// <summary>Adds <paramref name="run"/> unless it is empty.</summary>
    private void AddRun(MirrorRun run)
    {
        if (run.Start < run.End)
        {
            _runs.Add(run);
        }
    }

    /// <summary>
    /// The table flags of a VMA's pages: the accesses it allows without a fault, the ones that first need its
    /// anon_vma (<c>vmf_anon_prepare</c> on a private VMA's first write, or first access without the zero page), and
    /// <see cref="TranslationEntry.Present"/>.
    /// </summary>
    private ulong EntryFlagsOf(VmArea* vma)
    {
        VmFlags flags = vma->VmFlags;
        ulong allowed = (VmFlagBits.IsAccessible(flags) ? TranslationEntry.Read : 0)
            | ((flags & VmFlags.Write) != 0 ? TranslationEntry.Write : 0)
            | ((flags & VmFlags.Exec) != 0 ? TranslationEntry.Execute : 0);
        bool awaitsAnonVma = (flags & VmFlags.Shared) == 0 && vma->AnonVma == null;
        ulong awaiting = 0;
        if (awaitsAnonVma)
        {
            awaiting = allowed & (vma->VmFile == null && !Space.Options.ZeroPage ? TranslationEntry.AccessMask : TranslationEntry.Write);
        }

        Debug.Assert((awaiting & ~TranslationEntry.AccessMask) == 0, "only access bits await an anon_vma");
        return (allowed & ~awaiting) | (awaiting << TranslationEntry.AwaitsAnonVmaShift) | TranslationEntry.Present;
    }

    /// <summary>The guest rights of the accesses <paramref name="entryFlags"/> allows without a fault.</summary>
    private static Prot AccessOf(ulong entryFlags) =>
        ((entryFlags & TranslationEntry.Read) != 0 ? Prot.Read : Prot.None)
        | ((entryFlags & TranslationEntry.Write) != 0 ? Prot.Write : Prot.None)
        | ((entryFlags & TranslationEntry.Execute) != 0 ? Prot.Exec : Prot.None);
}
