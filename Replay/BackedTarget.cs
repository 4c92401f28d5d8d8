using System;
using System.Reflection;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Replay;

/// <summary>
/// A trace run with real host memory behind the engine (<c>--backed</c>): each operation is the
/// <see cref="GuestMemory"/> call, and <c>touch</c> writes each page through <see cref="GuestMemory.Translate"/>,
/// calling <see cref="GuestMemory.Fault"/> and translating again when it asks for a fault, as a host running guest
/// code does. The output must not change: what the engine decides is the same, only now real pages follow it.
/// </summary>
/// <remarks>
/// The backed guest range is the window with its empty guard pages on each side, as the oracle places it; the
/// engine's layout options (mmap_min_addr, TASK_SIZE, mmap_base, the heap's start) are moved to its ends, which no
/// trace can tell: every trace address lies in the window and every mapping is MAP_FIXED. Shared anonymous mappings
/// are backed (one memfd each), file mappings map the host files <see cref="TraceFiles"/> creates, and fork gives
/// the child its own backed space.
/// </remarks>
internal sealed unsafe class BackedTarget(GuestMemory guest) : TraceTarget(guest)
{
    /// <summary>The first backed guest address: the guard pages below the window.</summary>
    public const ulong Low = TraceRunner.WindowBase - (TraceRunner.GuardPages << MmConstants.PageShift);

    /// <summary>The end of the backed guest range: the guard pages above the window.</summary>
    public const ulong High = TraceRunner.WindowBase + ((TraceRunner.WindowPages + TraceRunner.GuardPages) << MmConstants.PageShift);

    /// <summary>A backed space over [<see cref="Low"/>, <see cref="High"/>) modelling the kernel of <paramref name="options"/>.</summary>
    public BackedTarget(AddressSpaceOptions options)
        : this(new GuestMemory(Low, High, InGuestRange(options)))
    {
    }

    /// <inheritdoc/>
    public override AddressSpace Space => guest.Space;

    /// <summary>
    /// <paramref name="options"/> with the layout moved into [<see cref="Low"/>, <see cref="High"/>): every other
    /// option (all the public init-only properties) copied as it is.
    /// </summary>
    public static AddressSpaceOptions InGuestRange(AddressSpaceOptions options)
    {
        var copy = new AddressSpaceOptions { MmapMinAddr = Low, TaskSize = High, MmapBase = High, StartBrk = Low };
        string[] layout = [nameof(options.MmapMinAddr), nameof(options.TaskSize), nameof(options.MmapBase), nameof(options.StartBrk)];
        foreach (PropertyInfo property in typeof(AddressSpaceOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.CanWrite && Array.IndexOf(layout, property.Name) < 0)
            {
                property.SetValue(copy, property.GetValue(options));
            }
        }

        return copy;
    }

    /// <inheritdoc/>
    public override Errno Touch(ulong address, ulong length)
    {
        if (length == 0)
        {
            return Errno.None;
        }

        ulong last = address + length - 1;
        if (last < address)
        {
            return Errno.EFAULT;
        }

        for (ulong page = address & MmConstants.PageMask; ; page += MmConstants.PageSize)
        {
            Errno error = WriteOneByte(page);
            if (error != Errno.None || page == (last & MmConstants.PageMask))
            {
                return error;
            }
        }
    }

    /// <inheritdoc/>
    public override Errno Fork(out TraceTarget? child)
    {
        Errno result = guest.Fork(out GuestMemory? forked);
        child = forked == null ? null : new BackedTarget(forked);
        return result;
    }

    /// <summary>
    /// A guest store of one zero byte (the oracle's <c>read(/dev/zero, page, 1)</c>) at <paramref name="address"/>:
    /// through the table, or, when it refuses, the trap path (<see cref="GuestMemory.Fault"/>, then the table again).
    /// EFAULT when the fault fails (ENOMEM when it ran out of memory).
    /// </summary>
    private Errno WriteOneByte(ulong address)
    {
        TranslateStatus status = guest.Translate(address, FaultAccess.Write, out nint host);
        if (status != TranslateStatus.Ok)
        {
            FaultResult fault = guest.Fault(address, FaultAccess.Write);
            if (fault != FaultResult.Ok)
            {
                return fault == FaultResult.OutOfMemory ? Errno.ENOMEM : Errno.EFAULT;
            }

            status = guest.Translate(address, FaultAccess.Write, out host);
            if (status != TranslateStatus.Ok)
            {
                throw new InvalidOperationException($"Translate refused the write at {address:x} ({status}) that Fault allowed");
            }
        }

        *(byte*)host = 0;
        return Errno.None;
    }
}
