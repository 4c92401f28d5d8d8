using System;
using System.Collections.Generic;
using System.Threading;

namespace Slab;

/// <summary>
/// User-space RCU. FIRST VERSION: a global reader-writer lock (correct, slow); the membarrier design replaces it (issue 3).
/// </summary>
public static class Rcu
{
    private static readonly ReaderWriterLockSlim s_lock = new(LockRecursionPolicy.SupportsRecursion);
    private static readonly object s_callbacksLock = new();
    private static readonly List<Action> s_callbacks = new();

    public static void ReadLock() => s_lock.EnterReadLock();

    public static void ReadUnlock() => s_lock.ExitReadLock();

    /// <summary>A read-side section as a <c>using</c> scope.</summary>
    public static RcuReadScope Read()
    {
        ReadLock();
        return default;
    }

    public static void Synchronize()
    {
        s_lock.EnterWriteLock();
        s_lock.ExitWriteLock();
    }

    public static void Call(Action callback)
    {
        lock (s_callbacksLock)
        {
            s_callbacks.Add(callback);
        }

        if (!s_lock.IsReadLockHeld)
        {
            Barrier();
        }
    }

    public static void Barrier()
    {
        Action[] pending;
        lock (s_callbacksLock)
        {
            pending = s_callbacks.ToArray();
            s_callbacks.Clear();
        }

        Synchronize();
        foreach (Action a in pending)
        {
            a();
        }
    }
}

/// <summary>Ends an RCU read-side section when disposed.</summary>
public readonly struct RcuReadScope : IDisposable
{
    public void Dispose() => Rcu.ReadUnlock();
}
