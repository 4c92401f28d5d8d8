using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Threading;

namespace VmaEngine.Vma.Locking;

/// <summary>
/// <c>mmap_lock</c>: the mm's reader-writer lock. Taking it for write starts a write section (the mm's
/// <see cref="MmStruct.MmLockSeq"/> becomes odd); releasing it ends the section (the sequence advances to even),
/// which releases every per-VMA write lock taken in it (<c>vma_end_write_all</c>).
/// </summary>
/// <remarks>
/// Closing: the address space's <c>Dispose</c> takes the lock for write and calls <see cref="Close"/>. Whoever takes
/// the lock afterwards (threads that were waiting for it included) releases it at once and gets an
/// <see cref="ObjectDisposedException"/> naming <see cref="AddressSpace"/>, without touching the mm. The
/// <see cref="ReaderWriterLockSlim"/> itself is never disposed, since threads may still be waiting on it; its wait
/// handles are finalizable.
/// </remarks>
internal sealed unsafe class MmapLock
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly MmStruct* _mm;

    /// <summary>Set by <see cref="Close"/> with the lock held for write; read by whoever holds the lock.</summary>
    private bool _closed;

    public MmapLock(MmStruct* mm) => _mm = mm;

    /// <summary>
    /// Takes the lock for write if nobody holds it, without waiting and without starting a write section: for
    /// housekeeping that changes no VMA (the VMA tree's idle trim). Release with <see cref="ExitHousekeeping"/>.
    /// </summary>
    public bool TryEnterForHousekeeping() => _lock.TryEnterWriteLock(0);

    /// <summary>Releases the lock taken by <see cref="TryEnterForHousekeeping"/>.</summary>
    public void ExitHousekeeping() => _lock.ExitWriteLock();

    /// <summary>Whether the current thread holds the lock for write.</summary>
    public bool IsWriteLockHeld => _lock.IsWriteLockHeld;

    /// <summary>Whether the current thread holds the lock for read or write.</summary>
    public bool IsHeld => _lock.IsWriteLockHeld || _lock.IsReadLockHeld;

    /// <summary><c>mmap_read_lock</c>.</summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public void ReadLock()
    {
        _lock.EnterReadLock();
        if (_closed)
        {
            _lock.ExitReadLock();
            ThrowClosed();
        }
    }

    /// <summary><c>mmap_read_unlock</c>.</summary>
    public void ReadUnlock() => _lock.ExitReadLock();

    /// <summary><c>mmap_write_lock</c>: takes the lock and starts a write section.</summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public void WriteLock()
    {
        _lock.EnterWriteLock();
        if (_closed)
        {
            _lock.ExitWriteLock();
            ThrowClosed();
        }

        uint seq = _mm->MmLockSeq;
        Debug.Assert((seq & 1) == 0, "mm_lock_seq odd outside a write section");
        Volatile.Write(ref _mm->MmLockSeq, seq + 1);
    }

    /// <summary><c>mmap_write_unlock</c>: ends the write section, releasing all VMA write locks, then the lock.</summary>
    public void WriteUnlock()
    {
        uint seq = _mm->MmLockSeq;
        Debug.Assert((seq & 1) != 0, "mm_lock_seq even inside a write section");
        Volatile.Write(ref _mm->MmLockSeq, seq + 1);
        _lock.ExitWriteLock();
    }

    /// <summary>
    /// Marks the lock closed: every later <see cref="ReadLock"/> and <see cref="WriteLock"/> throws. Called with the
    /// lock held for write, by the address space's <c>Dispose</c>.
    /// </summary>
    public void Close()
    {
        Debug.Assert(_lock.IsWriteLockHeld, "closing mmap_lock without holding it for write");
        _closed = true;
    }

    [DoesNotReturn]
    private static void ThrowClosed() => throw new ObjectDisposedException(typeof(AddressSpace).FullName);
}
