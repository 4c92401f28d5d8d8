using System;
using System.Threading;
using VmaEngine.Slab;

namespace Tests.Slab;

/// <summary>
/// A thread that enters a reader state (an <see cref="Rcu"/> read-side section, or online in <see cref="RcuQsbr"/>),
/// stays in it until <see cref="Release"/>, then leaves it. The constructor returns once the thread is inside.
/// </summary>
internal sealed class HeldReader : IDisposable
{
    private readonly ManualResetEventSlim _inside = new();
    private readonly ManualResetEventSlim _release = new();
    private readonly Thread _thread;

    /// <summary>Starts a thread that calls <paramref name="enter"/>, waits for <see cref="Release"/>, then calls <paramref name="leave"/>.</summary>
    public HeldReader(Action enter, Action leave)
    {
        _thread = new Thread(() =>
        {
            enter();
            _inside.Set();
            _release.Wait();
            leave();
        });
        _thread.Start();
        _inside.Wait();
    }

    /// <summary>A thread inside an <see cref="Rcu"/> read-side section.</summary>
    public static HeldReader InRcuSection() => new(Rcu.ReadLock, Rcu.ReadUnlock);

    /// <summary>Lets the thread leave its reader state and waits for it to end.</summary>
    public void Release()
    {
        _release.Set();
        _thread.Join();
    }

    /// <summary>Releases the thread if the test did not, so that a failed assertion leaves no thread behind.</summary>
    public void Dispose()
    {
        Release();
        _inside.Dispose();
        _release.Dispose();
    }
}
