using System;
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
/// Lock order: mmap_lock, then a VMA's write lock (taken only with mmap_lock held for write), then the writer
/// wait monitor. Lock-free readers hold an RCU read-side section and at most per-VMA read locks.
/// </remarks>
public sealed unsafe partial class AddressSpace : IDisposable
{
    private static long s_nextId;

    private readonly MmStruct* _mm;
    private bool _disposed;

    /// <summary>An empty address space with default options.</summary>
    public AddressSpace()
        : this(new AddressSpaceOptions())
    {
    }

    /// <summary>An empty address space.</summary>
    public AddressSpace(AddressSpaceOptions options)
    {
        Options = options;
        _mm = (MmStruct*)NativeMemory.AllocZeroed((nuint)sizeof(MmStruct));
        _mm->Id = Interlocked.Increment(ref s_nextId);
        WriterWait.Init(_mm);
        MmapLock = new MmapLock(_mm);
        Tree = new VmaTree(MmapLock);
        VmaMetrics.AddressSpaceCreated(_mm);
    }

    /// <summary>The options this address space was created with.</summary>
    public AddressSpaceOptions Options { get; }

    /// <summary>The number of VMAs (<c>map_count</c>).</summary>
    public int MapCount => Volatile.Read(ref _mm->MapCount);

    /// <summary>Injects allocation failures, for tests.</summary>
    public FaultInjection Faults { get; } = new();

    /// <summary>The unmanaged mm the VMAs point to.</summary>
    internal MmStruct* Mm => _mm;

    /// <summary>The VMA tree (<c>mm_mt</c>).</summary>
    internal VmaTree Tree { get; }

    /// <summary>The mm's <c>mmap_lock</c>.</summary>
    internal MmapLock MmapLock { get; }

    /// <summary>
    /// Test seam: runs inside <see cref="LockVmaUnderRcu"/> between the tree walk and the read lock, with the VMA
    /// found, so tests can force the interleavings a racing writer produces. Null outside tests.
    /// </summary>
    internal Action<nint>? AfterTreeWalk { get; set; }

    /// <summary>
    /// <c>lock_vma_under_rcu</c>: the VMA covering <paramref name="address"/>, read-locked, or null when the caller
    /// must take mmap_lock instead (nothing mapped there, a writer holds the VMA, or the VMA changed under us).
    /// Release it with <see cref="VmaEndRead"/>.
    /// </summary>
    public VmArea* LockVmaUnderRcu(ulong address)
    {
        while (true)
        {
            Rcu.ReadLock();
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
    public static void VmaEndRead(VmArea* vma) => VmaLock.EndRead(vma);

    /// <summary>
    /// Gives the VMA tree's spare nodes back to the slab, as a kernel shrinker would under memory pressure: the nodes
    /// preallocated for the next store and the replaced nodes the tree keeps for reuse. After a burst of changes the
    /// tree holds up to 16,384 replaced nodes (4 MiB) for its next stores; once it has been idle for a grace period
    /// it trims them to 256 by itself (64 KiB), and this call returns those too. The layout is unchanged.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public void Shrink()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        MmapLock.WriteLock();
        Tree.ReleasePreallocated();
        MmapLock.WriteUnlock();
    }

    /// <summary>
    /// Tears the address space down (<c>exit_mmap</c>): every VMA is write-locked, marked detached and freed with the
    /// references it holds (anon_vma links, file, policy, name).
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        MmapLock.WriteLock();
        ulong address = 0;
        while (true)
        {
            VmArea* vma = Tree.FindAtOrAfter(address, ulong.MaxValue, out _, out ulong end);
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
        MmapLock.WriteUnlock();
        Tree.Dispose();
        MmapLock.Dispose();
        WriterWait.Destroy(_mm);
        VmaMetrics.AddressSpaceDisposed(_mm);
        NativeMemory.Free(_mm);
    }
}
