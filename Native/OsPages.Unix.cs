using System;
using System.Runtime.InteropServices;
using Mono.Unix.Native;

namespace VmaEngine.Native;

public static unsafe partial class OsPages
{
    /// <summary>
    /// Linux and other Unix systems: mmap, munmap and mprotect through Mono.Posix, and madvise through libc
    /// directly, because Mono.Posix only offers <c>posix_madvise</c>, whose <c>POSIX_MADV_DONTNEED</c> glibc
    /// ignores.
    /// </summary>
    private static partial class Unix
    {
        /// <summary>Flags of every anonymous mapping made here: private, no swap reservation.</summary>
        private const MmapFlags AnonymousFlags = MmapFlags.MAP_PRIVATE | MmapFlags.MAP_ANONYMOUS | MmapFlags.MAP_NORESERVE;

        /// <summary>Linux's MADV_DONTNEED.</summary>
        private const int MadvDontNeed = 4;

        /// <summary>
        /// Maps <paramref name="size"/> plus <paramref name="alignment"/> bytes of inaccessible memory, then unmaps the
        /// misaligned head and the tail beyond <paramref name="size"/>.
        /// </summary>
        public static void* Reserve(nuint size, nuint alignment)
        {
            nuint slack = alignment > PageSize ? alignment - PageSize : 0;
            nuint mappedSize = size + slack;
            IntPtr mapped = Syscall.mmap(IntPtr.Zero, mappedSize, MmapProts.PROT_NONE, AnonymousFlags, -1, 0);
            if (mapped == Syscall.MAP_FAILED)
            {
                throw Failure("mmap", mappedSize);
            }

            nuint start = (nuint)mapped;
            nuint aligned = (start + alignment - 1) & ~(alignment - 1);
            nuint head = aligned - start;
            nuint tail = slack - head;
            if (head != 0)
            {
                Unmap((void*)start, head);
            }

            if (tail != 0)
            {
                Unmap((void*)(aligned + size), tail);
            }

            return (void*)aligned;
        }

        public static void Protect(void* address, nuint size, PageProtection protection)
        {
            if (Syscall.mprotect((IntPtr)address, size, ToProts(protection)) != 0)
            {
                throw Failure("mprotect", size);
            }
        }

        /// <summary>
        /// Replaces the pages with a fresh inaccessible anonymous mapping: the memory goes back to the kernel and the
        /// next commit reads zeroes.
        /// </summary>
        public static void Decommit(void* address, nuint size)
        {
            IntPtr mapped = Syscall.mmap((IntPtr)address, size, MmapProts.PROT_NONE, AnonymousFlags | MmapFlags.MAP_FIXED, -1, 0);
            if (mapped == Syscall.MAP_FAILED)
            {
                throw Failure("mmap", size);
            }
        }

        /// <summary>Drops the contents of the pages; they stay accessible and read as zero afterwards.</summary>
        public static void AdviseDontNeed(void* address, nuint size)
        {
            if (madvise(address, size, MadvDontNeed) != 0)
            {
                throw new OsPagesException("madvise", size, Stdlib.GetLastError().ToString());
            }
        }

        public static void Release(void* address, nuint size) => Unmap(address, size);

        private static void Unmap(void* address, nuint size)
        {
            if (Syscall.munmap((IntPtr)address, size) != 0)
            {
                throw Failure("munmap", size);
            }
        }

        private static MmapProts ToProts(PageProtection protection) => protection switch
        {
            PageProtection.None => MmapProts.PROT_NONE,
            PageProtection.Read => MmapProts.PROT_READ,
            PageProtection.ReadWrite => MmapProts.PROT_READ | MmapProts.PROT_WRITE,
            PageProtection.ReadExecute => MmapProts.PROT_READ | MmapProts.PROT_EXEC,
            PageProtection.ReadWriteExecute => MmapProts.PROT_READ | MmapProts.PROT_WRITE | MmapProts.PROT_EXEC,
            _ => throw new ArgumentOutOfRangeException(nameof(protection), protection, "Unknown page protection."),
        };

        private static OsPagesException Failure(string call, nuint size) =>
            new(call, size, Stdlib.GetLastError().ToString());

        [LibraryImport("libc", SetLastError = true)]
        private static partial int madvise(void* address, nuint length, int advice);
    }
}
