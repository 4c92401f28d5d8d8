using System;
using VmaEngine.Vma;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// An independent, page-granular reference model of an address space under mmap, munmap, mprotect, madvise, mlock,
/// munlock, anon names and touch (v6.15 rules): each page of a window has its flags, backing object, offset and
/// name. Whether a page's VMA has an anon_vma is not modelled; the caller passes what the engine reports before
/// the operation (it only decides whether mprotect to read-only drops VM_ACCOUNT).
/// </summary>
internal sealed class LayoutModel
{
    /// <summary>The state of one page.</summary>
    public struct PageState
    {
        public bool Mapped;
        public VmFlags Flags;

        /// <summary>0: private anonymous; negative: a shared anonymous object; positive: a file identity.</summary>
        public int Object;
        public ulong Pgoff;
        public string? Name;
    }

    private readonly PageState[] _pages;
    private int _lastShmem;

    public LayoutModel(int pages) => _pages = new PageState[pages];

    public int Count => _pages.Length;

    public PageState this[int page] => _pages[page];

    /// <summary>mmap MAP_FIXED of valid arguments: replaces [start, start + count).</summary>
    public void Mmap(int start, int count, Prot prot, bool shared, int fileId, ulong filePgoff, bool noReserve, bool locked)
    {
        VmFlags flags = (VmFlags)(ulong)prot | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec;
        int obj = fileId;
        if (shared)
        {
            flags |= VmFlags.Shared | VmFlags.MayShare;
            if (fileId == 0)
            {
                obj = --_lastShmem;
            }
        }

        flags |= noReserve ? VmFlags.NoReserve : 0;
        flags |= locked ? VmFlags.Locked : 0;
        if ((flags & (VmFlags.Write | VmFlags.Shared | VmFlags.NoReserve)) == VmFlags.Write)
        {
            flags |= VmFlags.Account;
        }

        for (int i = 0; i < count; i++)
        {
            ulong pgoff = obj == 0 ? Layout.P((ulong)(start + i)) >> MmConstants.PageShift : obj < 0 ? (ulong)i : filePgoff + (ulong)i;
            _pages[start + i] = new PageState { Mapped = true, Flags = flags, Object = obj, Pgoff = pgoff };
        }
    }

    public void Munmap(int start, int count) => Array.Clear(_pages, start, count);

    /// <summary>mprotect: page by page up to the first hole (ENOMEM).</summary>
    public Errno Mprotect(int start, int count, Prot prot, Func<int, bool> hasAnonVma)
    {
        for (int p = start; p < start + count; p++)
        {
            if (!_pages[p].Mapped)
            {
                return Errno.ENOMEM;
            }

            VmFlags old = _pages[p].Flags;
            VmFlags flags = (VmFlags)(ulong)prot | (old & ~(VmFlags.Read | VmFlags.Write | VmFlags.Exec));
            if ((flags & VmFlags.Write) != 0)
            {
                if ((old & (VmFlags.Account | VmFlags.Write | VmFlags.HugeTlb | VmFlags.Shared | VmFlags.NoReserve)) == 0)
                {
                    flags |= VmFlags.Account;
                }
            }
            else if ((old & VmFlags.Account) != 0 && _pages[p].Object == 0 && !hasAnonVma(p))
            {
                flags &= ~VmFlags.Account;
            }

            _pages[p].Flags = flags;
        }

        return Errno.None;
    }

    /// <summary>mlock/munlock: page by page up to the first hole (ENOMEM); mlock then fails (ENOMEM) on PROT_NONE.</summary>
    public Errno Lock(int start, int count, bool lockPages)
    {
        for (int p = start; p < start + count; p++)
        {
            if (!_pages[p].Mapped)
            {
                return Errno.ENOMEM;
            }

            _pages[p].Flags = lockPages ? _pages[p].Flags | VmFlags.Locked : _pages[p].Flags & ~VmFlags.Locked;
        }

        for (int p = start; lockPages && p < start + count; p++)
        {
            if ((_pages[p].Flags & (VmFlags.Read | VmFlags.Write | VmFlags.Exec)) == 0)
            {
                return Errno.ENOMEM;
            }
        }

        return Errno.None;
    }

    /// <summary>madvise: every mapped page; a page the advice is invalid on stops the walk (EINVAL); holes give ENOMEM.</summary>
    public Errno Madvise(int start, int count, Advice advice)
    {
        return Walk(start, count, p =>
        {
            VmFlags f = _pages[p].Flags;
            switch (advice)
            {
                case Advice.Normal:
                    f &= ~(VmFlags.RandRead | VmFlags.SeqRead);
                    break;
                case Advice.Random:
                    f = (f & ~VmFlags.SeqRead) | VmFlags.RandRead;
                    break;
                case Advice.Sequential:
                    f = (f & ~VmFlags.RandRead) | VmFlags.SeqRead;
                    break;
                case Advice.DontFork:
                    f |= VmFlags.DontCopy;
                    break;
                case Advice.DoFork:
                    f &= ~VmFlags.DontCopy;
                    break;
                case Advice.WipeOnFork:
                    if (_pages[p].Object != 0)
                    {
                        return Errno.EINVAL;
                    }

                    f |= VmFlags.WipeOnFork;
                    break;
                case Advice.KeepOnFork:
                    f &= ~VmFlags.WipeOnFork;
                    break;
                case Advice.DontDump:
                    f |= VmFlags.DontDump;
                    break;
                case Advice.DoDump:
                    f &= ~VmFlags.DontDump;
                    break;
                case Advice.HugePage:
                    f = (f & ~VmFlags.NoHugePage) | VmFlags.HugePage;
                    break;
                case Advice.NoHugePage:
                    f = (f & ~VmFlags.HugePage) | VmFlags.NoHugePage;
                    break;
            }

            _pages[p].Flags = f;
            return Errno.None;
        });
    }

    /// <summary>PR_SET_VMA_ANON_NAME: like madvise; a file page stops the walk (EBADF).</summary>
    public Errno SetName(int start, int count, string? name) => Walk(start, count, p =>
    {
        if (_pages[p].Object > 0)
        {
            return Errno.EBADF;
        }

        _pages[p].Name = name;
        return Errno.None;
    });

    /// <summary>touch: EFAULT at the first page that is unmapped or not writable.</summary>
    public Errno Touch(int start, int count)
    {
        for (int p = start; p < start + count; p++)
        {
            if (!_pages[p].Mapped || (_pages[p].Flags & VmFlags.Write) == 0)
            {
                return Errno.EFAULT;
            }
        }

        return Errno.None;
    }

    private Errno Walk(int start, int count, Func<int, Errno> visit)
    {
        bool hole = false;
        bool any = false;
        for (int p = start; p < start + count; p++)
        {
            if (!_pages[p].Mapped)
            {
                hole = true;
                continue;
            }

            any = true;
            Errno error = visit(p);
            if (error != Errno.None)
            {
                return error;
            }
        }

        return hole || !any ? Errno.ENOMEM : Errno.None;
    }
}
