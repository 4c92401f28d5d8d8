using System;
using System.Diagnostics;
using System.Threading;

namespace Slab;

/// <summary>
/// A read-side section of <see cref="Rcu"/> as a <c>using</c> scope: <see cref="Rcu.Read"/> enters it,
/// <see cref="Dispose"/> leaves it. Dispose it once, on the thread that entered it.
/// </summary>
public readonly struct RcuReadScope : IDisposable
{
    /// <summary>The record of the thread that entered the section.</summary>
    private readonly RcuThreadRecord? _record;

    /// <summary>A scope over <paramref name="record"/>, whose section was just entered.</summary>
    internal RcuReadScope(RcuThreadRecord record) => _record = record;

    /// <summary>Leaves the read-side section.</summary>
    /// <exception cref="InvalidOperationException">The scope was not created by <see cref="Rcu.Read"/>, or the section was already left.</exception>
    public void Dispose()
    {
        if (_record is null)
        {
            throw new InvalidOperationException("This RcuReadScope was not created by Rcu.Read().");
        }

        Debug.Assert(_record.Owner == Thread.CurrentThread, "an RCU read-side section must end on the thread that began it");
        _record.ReadUnlock();
    }
}
