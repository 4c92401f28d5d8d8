namespace VmaEngine.Vma;

/// <summary>Linux errno values, as the mm system calls return them (negated in the kernel).</summary>
public enum Errno
{
    /// <summary>Success.</summary>
    None = 0,

    /// <summary>Operation not permitted.</summary>
    EPERM = 1,

    /// <summary>Interrupted.</summary>
    EINTR = 4,

    /// <summary>Bad file descriptor (no file for a non-anonymous mmap; naming a file mapping).</summary>
    EBADF = 9,

    /// <summary>Try again (e.g. mlock beyond RLIMIT_MEMLOCK).</summary>
    EAGAIN = 11,

    /// <summary>Out of memory, or an address range not fully mapped.</summary>
    ENOMEM = 12,

    /// <summary>Permission denied (e.g. a protection the file does not allow).</summary>
    EACCES = 13,

    /// <summary>Bad address.</summary>
    EFAULT = 14,

    /// <summary>Device or resource busy.</summary>
    EBUSY = 16,

    /// <summary>The range is already mapped (MAP_FIXED_NOREPLACE).</summary>
    EEXIST = 17,

    /// <summary>No such device (the file cannot be mapped).</summary>
    ENODEV = 19,

    /// <summary>Invalid argument.</summary>
    EINVAL = 22,

    /// <summary>Value too large (offset plus length overflows).</summary>
    EOVERFLOW = 75,

    /// <summary>Operation not supported (a MAP_SHARED_VALIDATE flag the file does not support).</summary>
    EOPNOTSUPP = 95,
}
