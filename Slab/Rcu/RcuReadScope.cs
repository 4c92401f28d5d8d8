using System;
using System.Diagnostics;

namespace VmaEngine.Slab;

/// <summary>
/// A read-side section of <see cref="Rcu"/> as a <c>using</c> scope: <see cref="Rcu.Read"/> enters it,
/// <see cref="Dispose"/> leaves it. Dispose it once, on the thread that entered it.
/// </summary>
public readonly unsafe struct RcuReadScope : IDisposable
{
    /// <summary>The counter of the thread that entered the section.</summary>
    private readonly PaddedCounter* _counter;

    /// <summary>A scope over <paramref name="counter"/>, whose section was just entered.</summary>
    internal RcuReadScope(PaddedCounter* counter) => _counter = counter;

    /// <summary>Leaves the read-side section.</summary>
    /// <exception cref="InvalidOperationException">The scope was not created by <see cref="Rcu.Read"/>, or the section was already left.</exception>
    public void Dispose()
    {
        if (_counter == null)
        {
            throw new InvalidOperationException("This RcuReadScope was not created by Rcu.Read().");
        }

        Debug.Assert(_counter == Rcu.CurrentThreadCounter, "an RCU read-side section must end on the thread that began it");
        RcuThreadRecord.ReadUnlock(_counter);
    }
}
