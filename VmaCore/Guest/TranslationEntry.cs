using System.Diagnostics;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// One page's entry in the <see cref="TranslationTable"/>: the host address of the page in bits 12 to 63, and in the
/// low bits what the guest may do there without a fault and why it may not. Zero means nothing is mapped.
/// </summary>
internal static class TranslationEntry
{
    /// <summary>Loads allowed without a fault; the bit of <see cref="FaultAccess.Read"/>.</summary>
    public const ulong Read = 1UL << (int)FaultAccess.Read;

    /// <summary>Stores allowed without a fault; the bit of <see cref="FaultAccess.Write"/>.</summary>
    public const ulong Write = 1UL << (int)FaultAccess.Write;

    /// <summary>Instruction fetches allowed without a fault; the bit of <see cref="FaultAccess.Execute"/>.</summary>
    public const ulong Execute = 1UL << (int)FaultAccess.Execute;

    /// <summary>A VMA covers the page.</summary>
    public const ulong Present = 1UL << 3;

    /// <summary>
    /// How far the "allowed after the anon_vma exists" bit of an access lies above its access bit: the VMA allows the
    /// access, but the first one must create its anon_vma (a first write; without the zero page, any first access).
    /// </summary>
    public const int AwaitsAnonVmaShift = 4;

    /// <summary>
    /// The page holds a guard marker (<c>MADV_GUARD_INSTALL</c>): every access faults and the host maps the page
    /// without access. Only the run map holds this bit; no entry is cached for such a page.
    /// </summary>
    public const ulong Guard = 1UL << 7;

    /// <summary>The access bits: what the host MMU should allow.</summary>
    public const ulong AccessMask = Read | Write | Execute;

    /// <summary>The bits below the host page address.</summary>
    public const ulong FlagsMask = 0xFFF;

    /// <summary>The access bit of <paramref name="access"/>; zero for a value that is no <see cref="FaultAccess"/>, which no entry allows.</summary>
    public static ulong BitOf(FaultAccess access) => (1UL << (int)access) & AccessMask;

    /// <summary>The entry of a mapped page at <paramref name="hostPage"/> with <paramref name="flags"/>.</summary>
    public static ulong Make(nint hostPage, ulong flags)
    {
        Debug.Assert(((ulong)hostPage & FlagsMask) == 0, "a host page address is not page aligned");
        Debug.Assert((flags & ~FlagsMask) == 0, "entry flags overflow into the address bits");
        return (ulong)hostPage | flags | Present;
    }

    /// <summary>Why <paramref name="entry"/> does not allow <paramref name="access"/>.</summary>
    public static TranslateStatus Refusal(ulong entry, FaultAccess access)
    {
        if ((entry & Present) == 0)
        {
            return TranslateStatus.Unmapped;
        }

        return (entry & (BitOf(access) << AwaitsAnonVmaShift)) != 0 ? TranslateStatus.FirstWrite : TranslateStatus.NotPermitted;
    }
}
