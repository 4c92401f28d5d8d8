using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// A guest address space whose pages are real host memory: an <see cref="AddressSpace"/> over the guest range
/// [<see cref="Low"/>, <see cref="High"/>), one contiguous host reservation behind that range (guest address g lives
/// at host address <see cref="HostBase"/> + (g - <see cref="Low"/>)), and a <see cref="TranslationTable"/> that gives
/// the host address of a guest access without a lock. Its members are the system calls of
/// <see cref="AddressSpace"/>; each calls the engine, then mirrors the result on the host and in the table.
/// </summary>
/// <remarks>
/// <para>
/// What the host sees: private anonymous VMAs are private anonymous host memory (unmap returns the range to the
/// reservation, contents gone; mremap moves the host pages without copying them; the advices that drop pages drop
/// them). A VMA's host protection is <see cref="HostProtectionOf"/> of what the guest may do there without a fault:
/// a private VMA without anon_vma is not writable (and, on a profile without the zero page, not accessible at all)
/// until <see cref="Fault"/> gives it one (issue 15 section 2), so the host MMU traps the first write just as
/// <see cref="Translate"/> reports it.
/// </para>
/// <para>
/// Locking: the system calls and <see cref="Fault"/> run one at a time under one lock; <see cref="Translate"/> takes
/// none. Change the <see cref="Space"/> only through this object, or the host memory no longer follows it.
/// </para>
/// <para>
/// Shared anonymous mappings are one host memfd each, file mappings the host file a
/// <see cref="Files.FileRegistry.OpenHost"/> file carries, both mapped at each VMA's offset, so splits, mremap and
/// <see cref="Fork"/> keep the sharing. Every host call goes through one counted door (<c>HostCalls</c>); when one
/// fails, the operation returns the errno its documentation gives and the engine and the host agree (see
/// <c>GuestMemory.Syscalls.cs</c>). On Windows the constructor throws <see cref="PlatformNotSupportedException"/>
/// (see <see cref="HostMapping"/>).
/// </para>
/// </remarks>
public sealed partial class GuestMemory : IMemorySyscalls
{
    /// <summary>Serializes the operations that change VMAs, the host mappings and the table.</summary>
    private readonly object _gate = new();

    /// <summary>The table <see cref="Translate"/> reads.</summary>
    private readonly TranslationTable _table;

    /// <summary>The page runs of the range being mirrored (reused: the writer is single).</summary>
    private readonly List<MirrorRun> _runs = [];

    /// <summary>Every host memory call this object makes goes through here (a fork child's are its parent's until it is built).</summary>
    private HostCalls _host;

    /// <summary>
    /// Whether every host mapping has the protection the table's runs give it (through <see cref="HostProtectionOf"/>),
    /// true until a host call fails while a range is mirrored.
    /// </summary>
    private bool _hostMatchesTable = true;

    private bool _disposed;

    /// <summary>
    /// Reserves host memory for the guest range [<paramref name="low"/>, <paramref name="high"/>) and creates an empty
    /// address space whose mappings all fall inside it.
    /// </summary>
    /// <param name="low">The first guest address backed; page aligned, at most <see cref="AddressSpaceOptions.MmapMinAddr"/> and <see cref="AddressSpaceOptions.StartBrk"/>.</param>
    /// <param name="high">The end of the backed guest range; page aligned, at least <see cref="AddressSpaceOptions.TaskSize"/>.</param>
    /// <param name="options">The engine's options; their task size and minimum address keep every mapping in the range.</param>
    /// <param name="hostProtection">The host protection of guest access rights; null: the same rights.</param>
    /// <exception cref="ArgumentException">The range is empty or unaligned, or the options allow mappings outside it.</exception>
    /// <exception cref="OsPagesException">The host refused the reservation.</exception>
    public GuestMemory(ulong low, ulong high, AddressSpaceOptions options, Func<Prot, HostProtection>? hostProtection = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ValidateRange(low, high, options);
        Low = low;
        High = high;
        HostProtectionOf = hostProtection ?? SameProtection;
        _host = new HostCalls();
        HostBase = _host.Reserve((nuint)(high - low));
        _table = CreateTable(low, high, HostBase);
        Space = new AddressSpace(options);
    }

    /// <summary>
    /// A fork child of <paramref name="parent"/>: <paramref name="space"/> (the engine's child) over a new host
    /// reservation of the parent's range, with nothing mapped yet, making its host calls through the parent's
    /// <see cref="HostCalls"/> until the fork gives it its own. The caller disposes <paramref name="space"/> if this throws.
    /// </summary>
    private GuestMemory(GuestMemory parent, AddressSpace space)
    {
        Low = parent.Low;
        High = parent.High;
        HostProtectionOf = parent.HostProtectionOf;
        _host = parent._host;
        HostBase = _host.Reserve((nuint)(High - Low));
        _table = CreateTable(Low, High, HostBase);
        Space = space;
    }

    /// <summary>The engine: read it freely, change it only through this object.</summary>
    public AddressSpace Space { get; }

    /// <summary>The first guest address backed.</summary>
    public ulong Low { get; }

    /// <summary>The end of the backed guest range.</summary>
    public ulong High { get; }

    /// <summary>The host address of guest address <see cref="Low"/>.</summary>
    public nint HostBase { get; }

    /// <summary>The host protection given to pages the guest may access with the given rights.</summary>
    public Func<Prot, HostProtection> HostProtectionOf { get; }

    /// <summary>The door of this object's host calls, where tests inject failures.</summary>
    internal HostCalls HostCalls => _host;

    /// <summary>The host memory the translation table holds now.</summary>
    public ulong TranslationTableBytes => _table.MemoryBytes;

    /// <summary>The host address of guest address <paramref name="guestAddress"/>, whatever is mapped there.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The address is outside [<see cref="Low"/>, <see cref="High"/>).</exception>
    public nint HostAddressOf(ulong guestAddress)
    {
        if (guestAddress < Low || guestAddress >= High)
        {
            throw new ArgumentOutOfRangeException(nameof(guestAddress), guestAddress, $"The guest address is outside the backed range [{Low:x}, {High:x}).");
        }

        return HostBase + (nint)(guestAddress - Low);
    }

    /// <summary>
    /// The host address at which the guest may make <paramref name="access"/> to <paramref name="guestAddress"/>
    /// without a fault, or zero and why the host must call <see cref="Fault"/> first (a guard page reads as
    /// <see cref="TranslateStatus.Unmapped"/>). Lock free: on a hit a shift, two loads and two masks; the first access
    /// to a page after a change of its VMA looks the page up and caches it. The address is good until the next
    /// operation on its page. Not to be called once <see cref="Dispose"/> has begun: the table is freed then.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="access"/> is not a defined <see cref="FaultAccess"/>.</exception>
    /// <exception cref="OutOfMemoryException">The table could not grow to cache the page; try again later.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TranslateStatus Translate(ulong guestAddress, FaultAccess access, out nint hostAddress)
    {
        TranslateStatus status = _table.Translate(guestAddress, access, out hostAddress);
        return status == TranslateStatus.Ok ? status : TranslateSlowly(guestAddress, access, status, out hostAddress);
    }

    /// <summary>Frees the address space, the table and the whole host reservation.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Space.Dispose();
            _table.Dispose();
            HostMapping.Release(HostBase, (nuint)(High - Low));
        }
    }

    /// <summary>The table of [<paramref name="low"/>, <paramref name="high"/>) over the reservation at <paramref name="hostBase"/>, which is released if the table cannot be made.</summary>
    private static TranslationTable CreateTable(ulong low, ulong high, nint hostBase)
    {
        try
        {
            return new TranslationTable(low, high - low, hostBase);
        }
        catch
        {
            HostMapping.Release(hostBase, (nuint)(high - low));
            throw;
        }
    }

    /// <summary>The default host protection: what the guest may do.</summary>
    private static HostProtection SameProtection(Prot prot) => (HostProtection)(int)(prot & (Prot.Read | Prot.Write | Prot.Exec));

    /// <summary>Throws unless the range is non-empty, page aligned, and holds every address the options allow a mapping at.</summary>
    private static void ValidateRange(ulong low, ulong high, AddressSpaceOptions options)
    {
        if ((low & ~MmConstants.PageMask) != 0 || (high & ~MmConstants.PageMask) != 0 || low >= high)
        {
            throw new ArgumentException($"GuestMemory needs a non-empty page-aligned guest range, not [{low:x}, {high:x}).", nameof(high));
        }

        if (options.MmapMinAddr < low || options.StartBrk < low || options.TaskSize > high || options.MmapBase > options.TaskSize)
        {
            throw new ArgumentException(
                $"GuestMemory's range [{low:x}, {high:x}) must hold every mapping the options allow: mmap_min_addr {options.MmapMinAddr:x} and start_brk {options.StartBrk:x} at or above low, TASK_SIZE {options.TaskSize:x} at or below high, mmap_base {options.MmapBase:x} at or below TASK_SIZE.",
                nameof(options));
        }
    }

    /// <summary>Throws when the object is disposed; call under <see cref="_gate"/>.</summary>
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
