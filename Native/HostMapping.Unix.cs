using System;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VmaEngine.Native;

public static partial class HostMapping
{
    /// <summary>
    /// The libc calls behind <see cref="HostMapping"/> on Linux: <c>mmap</c>, <c>mprotect</c>, <c>mremap</c>,
    /// <c>madvise</c>, <c>munmap</c>, <c>memfd_create</c>, <c>ftruncate</c> and <c>mincore</c> through
    /// <c>LibraryImport</c>, because Mono.Posix's <c>mremap</c> takes no new address and its madvise is
    /// <c>posix_madvise</c>.
    /// </summary>
    private static partial class Unix
    {
        /// <summary>Linux's <c>MADV_DONTNEED</c>.</summary>
        public const int MadvDontNeed = 4;

        /// <summary>Linux's <c>MADV_REMOVE</c>.</summary>
        public const int MadvRemove = 9;

        /// <summary>Linux's <c>MAP_SHARED</c>.</summary>
        private const int MapShared = 0x01;

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

        /// <summary>Linux's <c>MREMAP_DONTUNMAP</c> (5.7; any mapping but special ones since 5.13).</summary>
        private const int MremapDontUnmap = 4;

        /// <summary>Linux's <c>MFD_CLOEXEC</c>.</summary>
        private const uint MfdCloexec = 1;

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
            int flags = MremapMayMove | MremapFixed;
            if (oldSize == newSize && mremap(oldAddress, oldSize, newSize, flags | MremapDontUnmap, newAddress) != s_mapFailed)
            {
                return true;
            }

            // Sizes that differ, a host without MREMAP_DONTUNMAP for this mapping, or a range it cannot move at all
            // (which fails again here with the errno that says so).
            if (mremap(oldAddress, oldSize, newSize, flags, newAddress) != s_mapFailed)
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

        public static void Advise(nint address, nuint size, int advice, string call)
        {
            if (madvise(address, size, advice) != 0)
            {
                throw Failure(call, size);
            }
        }

        /// <summary>Maps the descriptor <paramref name="fd"/> at <paramref name="address"/> exactly.</summary>
        public static void MapFile(nint address, nuint size, HostProtection protection, nint fd, ulong offset, bool shared)
        {
            int flags = (shared ? MapShared : MapPrivate) | MapFixed;
            if (mmap(address, size, (int)protection, flags, (int)fd, (long)offset) == s_mapFailed)
            {
                throw Failure("mmap", size);
            }
        }

        public static SafeFileHandle CreateSharedMemory(string name, ulong size)
        {
            int fd = memfd_create(name, MfdCloexec);
            if (fd < 0)
            {
                throw Failure("memfd_create", (nuint)size);
            }

            var handle = new SafeFileHandle(fd, ownsHandle: true);
            if (ftruncate(fd, (long)size) != 0)
            {
                OsPagesException failure = Failure("ftruncate", (nuint)size);
                handle.Dispose();
                throw failure;
            }

            return handle;
        }

        public static unsafe void GetResidentPages(nint address, nuint size, Span<byte> resident)
        {
            fixed (byte* vector = resident)
            {
                if (mincore(address, size, vector) != 0)
                {
                    throw Failure("mincore", size);
                }
            }
        }

        /// <summary>Reads and writes <c>/proc/self/mem</c>, which ignores page protections as ptrace does.</summary>
        public static void CopyIgnoringProtection(nint source, nint destination, nuint size)
        {
            try
            {
                using SafeFileHandle memory = File.OpenHandle("/proc/self/mem", FileMode.Open, FileAccess.ReadWrite);
                byte[] buffer = new byte[Math.Min((int)OsPages.PageSize * 16, (int)Math.Min(size, int.MaxValue))];
                for (nuint done = 0; done < size;)
                {
                    int chunk = (int)Math.Min((nuint)buffer.Length, size - done);
                    Span<byte> part = buffer.AsSpan(0, chunk);
                    if (RandomAccess.Read(memory, part, (long)(source + (nint)done)) != chunk)
                    {
                        throw new OsPagesException("pread(/proc/self/mem)", size, "short read");
                    }

                    RandomAccess.Write(memory, part, (long)(destination + (nint)done));
                    done += (nuint)chunk;
                }
            }
            catch (IOException error)
            {
                throw new OsPagesException("/proc/self/mem", size, error.Message);
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

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int memfd_create(string name, uint flags);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int ftruncate(int fd, long length);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial int mincore(nint address, nuint length, byte* vector);
    }
}
