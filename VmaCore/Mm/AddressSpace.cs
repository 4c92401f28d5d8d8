using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using VmaEngine.Slab;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// An address space (<c>struct mm_struct</c>): the VMAs of one guest process, their tree, <c>mmap_lock</c> and the
/// per-VMA locks. The host-facing type: system calls, faults and <c>/proc/pid/maps</c> are its members.
/// </summary>
/// <remarks>
/// <para>Lock order: mmap_lock, then a VMA's write lock (taken only with mmap_lock held for write), then the writer
/// wait monitor. Lock-free readers hold an RCU read-side section and at most per-VMA read locks.</para>
/// <para>Disposal: once <see cref="Dispose"/> has begun, every member but <see cref="Options"/>,
/// <see cref="ToString"/> and <see cref="Dispose"/> throws an <see cref="ObjectDisposedException"/> naming
/// <see cref="AddressSpace"/>. Calls already running finish first: <see cref="Dispose"/> takes mmap_lock for write,
/// so it waits for every system call and every fault that fell back to mmap_lock, then write-locks each VMA, so it
/// waits for every VMA read lock (<see cref="LockVmaUnderRcu"/>, <see cref="ReadLockVma"/>, the fault path) to be
/// released. A thread that disposes while it holds a VMA read lock of this address space therefore never returns.
/// Lock-free readers that looked before the disposal may still be inside the tree or a VMA: the VMAs are
/// type-safe slab objects, the tree frees its nodes after a grace period, and the mm is freed after a grace period
/// too, so nothing they read is freed under them.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed unsafe partial class AddressSpace : IMemorySyscalls
{
    private static long s_nextId;

    private readonly MmStruct* _mm;

    /// <summary>A number unique among the address spaces of the process, for diagnostics (the mm's Id).</summary>
    private readonly long _id;

    /// <summary>1 once <see cref="Dispose"/> has begun (set once, with a full fence, before anything is torn down).</summary>
    private int _disposed;

    /// <summary>An empty address space with default options.</summary>
    public AddressSpace()
        : this(new AddressSpaceOptions())
    {
    }

    /// <summary>An empty address space.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its allowed range (see each option).</exception>
    public AddressSpace(AddressSpaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _id = Interlocked.Increment(ref s_nextId);
        _mm = (MmStruct*)NativeMemory.AllocZeroed((nuint)sizeof(MmStruct));
        _mm->Id = _id;
        WriterWait.Init(_mm);
        MmapLock = new MmapLock(_mm);
        Tree = new VmaTree(MmapLock);
        VmaMetrics.AddressSpaceCreated(_mm);
    }

    /// <summary>
    /// The options this address space was created with: an immutable configuration object, still readable after
    /// <see cref="Dispose"/> (reading it touches nothing the disposal frees).
    /// </summary>
    public AddressSpaceOptions Options { get; }

    /// <summary>The number of VMAs (<c>map_count</c>).</summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public int MapCount
    {
        get
        {
            // Inside a read-side section the mm, freed a grace period after the disposal began, stays readable.
            using (Rcu.Read())
            {
                ThrowIfDisposed();
                return Volatile.Read(ref _mm->MapCount);
            }
        }
    }

    /// <summary>
    /// The mm's memory counters (<c>total_vm</c>, <c>locked_vm</c>, <c>pinned_vm</c>, <c>data_vm</c>, <c>exec_vm</c>,
    /// <c>stack_vm</c>), in pages, as <c>/proc/PID/status</c> shows them (<see cref="MmCounters"/>). Read without
    /// mmap_lock, as the kernel reads them: while a system call runs on another thread the fields may come from
    /// before and after it.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public MmCounters Counters
    {
        get
        {
            using (Rcu.Read())
            {
                ThrowIfDisposed();
                return new MmCounters(
                    TotalVm: Volatile.Read(ref _mm->Stat.TotalVm),
                    LockedVm: Volatile.Read(ref _mm->LockedVm),
                    PinnedVm: 0,
                    DataVm: Volatile.Read(ref _mm->Stat.DataVm),
                    ExecVm: Volatile.Read(ref _mm->Stat.ExecVm),
                    StackVm: Volatile.Read(ref _mm->Stat.StackVm));
            }
        }
    }

    /// <summary>Injects allocation failures, for tests (reached through InternalsVisibleTo).</summary>
    internal FaultInjection Faults { get; } = new();

    /// <summary>The unmanaged mm the VMAs point to.</summary>
    internal MmStruct* Mm => _mm;

    /// <summary>The VMA tree (<c>mm_mt</c>).</summary>
    internal VmaTree Tree { get; }

    /// <summary>The mm's <c>mmap_lock</c>.</summary>
    internal MmapLock MmapLock { get; }

    /// <summary>Whether <see cref="Dispose"/> has begun.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Test seam: runs inside <see cref="LockVmaUnderRcu"/> between the tree walk and the read lock, with the VMA
    /// found, so tests can force the interleavings a racing writer produces. Null outside tests.
    /// </summary>
    internal Action<nint>? AfterTreeWalk { get; set; }

    /// <summary>
    /// <c>lock_vma_under_rcu</c>: the VMA covering <paramref name="address"/>, read-locked, or null when the caller
    /// must take mmap_lock instead (nothing mapped there, a writer holds the VMA, or the VMA changed under us).
    /// Release it with <see cref="VmaEndRead"/>, exactly once.
    /// </summary>
    /// <remarks>
    /// Advanced: the allocation-free raw path of the fault handler. The host reads the VMA through its read-only
    /// members (<see cref="VmArea.Start"/>, <see cref="VmArea.End"/>, <see cref="VmArea.Flags"/>,
    /// <see cref="VmArea.Pgoff"/>, <see cref="VmArea.PageProt"/>, <see cref="VmArea.HasAnonVma"/>,
    /// <see cref="VmArea.Backing"/>, the names, or all at once with <see cref="VmArea.ToInfo"/>); the kernel fields
    /// behind them are internal. The pointer is valid only until the release; the VMA cannot change meanwhile
    /// (writers wait for it), and
    /// <see cref="Dispose"/> waits for it too. Hosts that avoid <c>unsafe</c> use <see cref="ReadLockVma"/> or
    /// <see cref="TryGetVma"/>.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public VmArea* LockVmaUnderRcu(ulong address)
    {
        while (true)
        {
            Rcu.ReadLock();
            if (IsDisposed)
            {
                Rcu.ReadUnlock();
                ThrowIfDisposed();
            }

            VmArea* vma = Tree.Load(address);
            if (vma == null)
            {
                Rcu.ReadUnlock();
                return null;
            }

            AfterTreeWalk?.Invoke((nint)vma);
            VmaReadResult result = VmaLock.StartRead(_mm, vma);
            if (result == VmaReadResult.Detached)
            {
                // Detached under us: a writer replaced it; the tree will show the new state.
                Rcu.ReadUnlock();
                continue;
            }

            if (result == VmaReadResult.Busy)
            {
                Rcu.ReadUnlock();
                return null;
            }

            // The object may have been freed and reused for another mm or another range: check who it is now.
            if (vma->VmMm != _mm || !vma->Contains(address))
            {
                VmaLock.EndRead(vma);
                Rcu.ReadUnlock();
                return null;
            }

            Rcu.ReadUnlock();
            return vma;
        }
    }

    /// <summary><c>vma_end_read</c>: releases a VMA read-locked by <see cref="LockVmaUnderRcu"/>.</summary>
    /// <remarks>
    /// A release that no read lock matches (a second release, a VMA never read-locked, or one already freed) is
    /// refused before the lock's count changes, as long as no other reader holds the same VMA; with other readers
    /// it cannot be told apart from theirs, so each lock must be released exactly once.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="vma"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No reader holds <paramref name="vma"/>.</exception>
    public static void VmaEndRead(VmArea* vma)
    {
        if (vma == null)
        {
            throw new ArgumentNullException(nameof(vma));
        }

        VmaLock.EndRead(vma);
    }

    /// <summary>
    /// Gives the VMA tree's spare nodes back to the slab, as a kernel shrinker would under memory pressure: the nodes
    /// preallocated for the next store and the replaced nodes the tree keeps for reuse. After a burst of changes the
    /// tree holds up to 16,384 replaced nodes (4 MiB) for its next stores; once it has been idle for a grace period
    /// it trims them to 256 by itself (64 KiB), and this call returns those too. The layout is unchanged.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public void Shrink()
    {
        ThrowIfDisposed();
        MmapLock.WriteLock();
        Tree.ReleasePreallocated();
        MmapLock.WriteUnlock();
    }

    /// <summary>The address space's number and VMA count, or that it is disposed; never throws.</summary>
    public override string ToString()
    {
        using (Rcu.Read())
        {
            return IsDisposed
                ? $"AddressSpace #{_id} (disposed)"
                : $"AddressSpace #{_id}: {Volatile.Read(ref _mm->MapCount)} VMAs, brk 0x{Options.StartBrk + _brkOffset:x}";
        }
    }

    /// <summary>
    /// Tears the address space down (<c>exit_mmap</c>): every VMA is write-locked, marked detached and freed with the
    /// references it holds (anon_vma links, file, policy, name). Waits for the calls running in the address space
    /// (see the type's remarks); a second call does nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        MmapLock.WriteLock();
        Release(ulong.MaxValue);
    }

    /// <summary>
    /// The end of <see cref="Dispose"/>, with mmap_lock held for write: frees the VMAs below <paramref name="limit"/>
    /// (a fork that failed stops where its copies stop, as <c>exit_mmap</c> stops at the marker <c>dup_mmap</c>
    /// leaves), then the tree, the locks and the mm.
    /// </summary>
    private void Release(ulong limit)
    {
        // Nothing is stored while VMAs are freed, so the leaf hint stays current: one walk per leaf, O(n) in all.
        ulong address = 0;
        LeafHint hint = default;
        while (true)
        {
            VmArea* vma = Tree.FindAtOrAfter(address, limit, ref hint, out _, out ulong end);
            if (vma == null)
            {
                break;
            }

            address = end;
            VmaLock.StartWrite(vma);
            VmaLock.MarkDetached(vma);
            FreeVma(vma);
        }

        _mm->MapCount = 0;
        MmapLock.Close();
        Tree.Dispose();
        MmapLock.WriteUnlock();
        VmaMetrics.AddressSpaceDisposed(_mm);

        // Lock-free readers that looked before the disposal, and a reader releasing its VMA to a waiting writer,
        // may still read the mm: free it after a grace period.
        Rcu.Call(MmRelease.Instance, (nint)_mm);
    }

    /// <summary>Throws the <see cref="ObjectDisposedException"/> of a disposed address space.</summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>The RCU callback that frees a disposed address space's mm and its writer wait object.</summary>
    private sealed class MmRelease : IRcuCallback
    {
        public static readonly MmRelease Instance = new();

        public void Invoke(nint argument)
        {
            MmStruct* mm = (MmStruct*)argument;
            WriterWait.Destroy(mm);
            NativeMemory.Free(mm);
        }
    }
}
