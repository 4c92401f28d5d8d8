using System.Runtime.InteropServices;

namespace VmaEngine.Native;

public static partial class HostMapping
{
    /// <summary>
    /// The libc calls behind <see cref="HostMapping"/> on Linux: <c>mmap</c>, <c>mprotect</c>, <c>mremap</c>,
    /// <c>madvise</c> and <c>munmap</c> through <c>LibraryImport</c>, because Mono.Posix's <c>mremap</c> takes no new
    /// address and its madvise is <c>posix_madvise</c>.
    /// </summary>
    private static partial class Unix
    {
        /// <summary>Linux's <c>MAP_PRIVATE</c>.</summary>
        private const int MapPrivate = 0x02;

        /// <summary>Linux's <c>MAP_FIXED</c>.</summary>
        private const int MapFixed = 0x10;

        /// <summary>Linux's <c>MAP_ANONYMOUS</c>.</summary>
        private const int MapAnonymousFlag = 0x20;

        /// <summary>Linux's <c>MAP_NORESERVE</c>.</summary>
        private const int MapNoReserve = 0x4000;

        /// <summary>Linux's <c>MREMAP_MAYMOVE</c>.</summary>
        private const int MremapMayMove = 1;

        /// <summary>Linux's <c>MREMAP_FIXED</c>.</summary>
        private const int MremapFixed = 2;

        /// <summary>Linux's <c>MADV_DONTNEED</c>.</summary>
        private const int MadvDontNeed = 4;

        /// <summary>Linux's <c>EINVAL</c>.</summary>
        private const int Einval = 22;

        /// <summary>Linux's <c>EFAULT</c>.</summary>
        private const int Efault = 14;

        /// <summary>What <c>mmap</c> and <c>mremap</c> return on failure.</summary>
        private static readonly nint s_mapFailed = -1;

        /// <summary>Maps private anonymous memory, at <paramref name="address"/> exactly when <paramref name="fixedAddress"/>.</summary>
        public static nint Map(nint address, nuint size, HostProtection protection, bool fixedAddress)
        {
            int flags = MapPrivate | MapAnonymousFlag | MapNoReserve | (fixedAddress ? MapFixed : 0);
            nint mapped = mmap(address, size, (int)protection, flags, -1, 0);
            if (mapped == s_mapFailed)
            {
                throw Failure("mmap", size);
            }

            return mapped;
        }

        public static void Protect(nint address, nuint size, HostProtection protection)
        {
            if (mprotect(address, size, (int)protection) != 0)
            {
                throw Failure("mprotect", size);
            }
        }

        public static bool TryMove(nint oldAddress, nuint oldSize, nuint newSize, nint newAddress)
        {
            if (mremap(oldAddress, oldSize, newSize, MremapMayMove | MremapFixed, newAddress) != s_mapFailed)
            {
                return true;
            }

            int error = Marshal.GetLastPInvokeError();
            if (error is Efault or Einval)
            {
                return false;
            }

            throw new OsPagesException("mremap", oldSize, Marshal.GetPInvokeErrorMessage(error));
        }

        public static void DropPages(nint address, nuint size)
        {
            if (madvise(address, size, MadvDontNeed) != 0)
            {
                throw Failure("madvise", size);
            }
        }

        public static void Release(nint address, nuint size)
        {
            if (munmap(address, size) != 0)
            {
                throw Failure("munmap", size);
            }
        }

        private static OsPagesException Failure(string call, nuint size) =>
            new(call, size, Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));

        [LibraryImport("libc", SetLastError = true)]
        private static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int mprotect(nint address, nuint length, int protection);

        /// <summary>
        /// <c>mremap</c> with its optional fifth argument always passed: on x86-64 and arm64 Linux a variadic integer
        /// argument travels like a fixed one.
        /// </summary>
        [LibraryImport("libc", SetLastError = true)]
        private static partial nint mremap(nint oldAddress, nuint oldLength, nuint newLength, int flags, nint newAddress);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int madvise(nint address, nuint length, int advice);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int munmap(nint address, nuint length);
    }
}
