using System;
namespace VmaEngine.Vma;

/// <summary>
/// <c>prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, ...)</c> (Linux v6.15 <c>kernel/sys.c</c> <c>prctl_set_vma</c>,
/// <c>mm/madvise.c</c> <c>madvise_set_anon_name</c>): names anonymous memory, VMA by VMA, with madvise's walk.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>ANON_VMA_NAME_MAX_LEN: the longest name, counting its terminating NUL.</summary>
    private const int AnonVmaNameMaxLength = 80;

    /// <summary>ANON_VMA_NAME_INVALID_CHARS: printable characters a name may not contain.</summary>
    private const string AnonVmaNameInvalidChars = "\\`$[]";

    /// <summary>
    /// Names [address, address + length) <paramref name="name"/>, or clears the name when it is null. The text ends
    /// at its first NUL, as the kernel reads a C string. EINVAL when the kernel has no
    /// <see cref="AddressSpaceOptions.AnonVmaNames"/>, the name is longer than 79 characters or has a character
    /// outside printable ASCII or in <c>\`$[]</c>, or the range is invalid (as madvise); EBADF at a VMA mapping a
    /// file (earlier VMAs stay named); ENOMEM for a hole (every mapped part is named anyway); EAGAIN when a split
    /// cannot allocate; ENOMEM when the name cannot be allocated.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno SetAnonName(ulong address, ulong length, string? name) =>
        VmaMetrics.Syscall("prctl_set_vma_anon_name", SetAnonNameUncounted(address, length, name));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno SetAnonNameUncounted(ulong address, ulong length, string? name)
    {
        ThrowIfDisposed();
        if (!Options.AnonVmaNames)
        {
            return Errno.EINVAL;
        }

        AnonVmaName* anonName = null;
        if (name != null)
        {
            int nul = name.IndexOf('\0');
            string text = nul >= 0 ? name[..nul] : name;
            if (text.Length >= AnonVmaNameMaxLength || !IsValidAnonName(text))
            {
                return Errno.EINVAL;
            }

            if (Faults.ShouldFail())
            {
                return Errno.ENOMEM;
            }

            anonName = AnonVmaName.Create(AnonNameTable.Intern(text));
        }

        try
        {
            // Taking mmap_lock throws if the address space was disposed meanwhile: the name is dropped all the same.
            MmapLock.WriteLock();
            try
            {
                return MadviseSetAnonName(address, length, anonName);
            }
            finally
            {
                MmapLock.WriteUnlock();
            }
        }
        finally
        {
            AnonVmaName.Put(anonName);
        }
    }

    /// <summary><c>is_valid_name_char</c> over the whole name: printable ASCII except <c>\`$[]</c>.</summary>
    private static bool IsValidAnonName(string text)
    {
        foreach (char c in text)
        {
            if (c <= (char)0x1F || c >= (char)0x7F || AnonVmaNameInvalidChars.Contains(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>madvise_set_anon_name</c>: the range checks, then the walk naming each VMA part.</summary>
    private Errno MadviseSetAnonName(ulong address, ulong length, AnonVmaName* name)
    {
        Errno error = MadviseRange(address, length, out ulong end);
        if (error != Errno.None || end == address)
        {
            return error;
        }

        return MadviseWalkVmas(address, end, &NameOne, (nint)name, out _);
    }

    /// <summary>
    /// One step of <see cref="MadviseSetAnonName"/>: names the VMA's part with the <see cref="AnonVmaName"/> that
    /// <paramref name="argument"/> points to; EBADF for file memory, which cannot be named.
    /// </summary>
    private static Errno NameOne(AddressSpace mm, VmArea* vma, ref VmArea* prev, ulong start, ulong end, nint argument)
    {
        // Only anonymous memory (private, or the shmem object of a shared anonymous mapping) can be named.
        if (vma->VmFile != null && vma->VmFile->Kind != VmFileKind.SharedAnonymous)
        {
            return Errno.EBADF;
        }

        Errno result = mm.MadviseUpdateVma(vma, ref prev, start, end, vma->VmFlags, (AnonVmaName*)argument);
        return result == Errno.ENOMEM ? Errno.EAGAIN : result;
    }
}
