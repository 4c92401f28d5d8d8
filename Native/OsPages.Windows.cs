using System;
using System.Runtime.InteropServices;

namespace VmaEngine.Native;

public static unsafe partial class OsPages
{
    /// <summary>Windows: VirtualAlloc, VirtualFree and VirtualProtect from kernel32.</summary>
    private static partial class Windows
    {
        private const uint MemCommit = 0x1000;
        private const uint MemReserve = 0x2000;
        private const uint MemDecommit = 0x4000;
        private const uint MemRelease = 0x8000;
        private const uint PageNoAccess = 0x01;
        private const uint PageReadOnly = 0x02;
        private const uint PageReadWrite = 0x04;
        private const uint PageExecuteRead = 0x20;
        private const uint PageExecuteReadWrite = 0x40;

        /// <summary>How often an aligned reservation is retried when another thread takes the address first.</summary>
        private const int AlignedReserveAttempts = 16;

        /// <summary>
        /// Reserves more than needed to find an aligned address, frees it, and reserves exactly there; another thread
        /// may take the address in between, so the sequence is retried a bounded number of times.
        /// </summary>
        public static void* Reserve(nuint size, nuint alignment)
        {
            if (alignment <= 64 * 1024)
            {
                void* simple = VirtualAlloc(null, size, MemReserve, PageNoAccess);
                return simple != null ? simple : throw Failure("VirtualAlloc", size);
            }

            for (int attempt = 0; attempt < AlignedReserveAttempts; attempt++)
            {
                void* probe = VirtualAlloc(null, size + alignment, MemReserve, PageNoAccess);
                if (probe == null)
                {
                    throw Failure("VirtualAlloc", size + alignment);
                }

                nuint aligned = ((nuint)probe + alignment - 1) & ~(alignment - 1);
                Release(probe);
                void* result = VirtualAlloc((void*)aligned, size, MemReserve, PageNoAccess);
                if (result != null)
                {
                    return result;
                }
            }

            throw Failure("VirtualAlloc", size);
        }

        public static void Commit(void* address, nuint size)
        {
            if (VirtualAlloc(address, size, MemCommit, PageReadWrite) == null)
            {
                throw Failure("VirtualAlloc", size);
            }
        }

        public static void Decommit(void* address, nuint size)
        {
            if (!VirtualFree(address, size, MemDecommit))
            {
                throw Failure("VirtualFree", size);
            }
        }

        /// <summary>Decommits then recommits, so the pages read as zero as on Linux.</summary>
        public static void AdviseDontNeed(void* address, nuint size)
        {
            Decommit(address, size);
            Commit(address, size);
        }

        public static void Protect(void* address, nuint size, PageProtection protection)
        {
            uint newProtect = protection switch
            {
                PageProtection.None => PageNoAccess,
                PageProtection.Read => PageReadOnly,
                PageProtection.ReadWrite => PageReadWrite,
                PageProtection.ReadExecute => PageExecuteRead,
                PageProtection.ReadWriteExecute => PageExecuteReadWrite,
                _ => throw new ArgumentOutOfRangeException(nameof(protection), protection, "Unknown page protection."),
            };
            if (!VirtualProtect(address, size, newProtect, out _))
            {
                throw Failure("VirtualProtect", size);
            }
        }

        public static void Release(void* address)
        {
            if (!VirtualFree(address, 0, MemRelease))
            {
                throw Failure("VirtualFree", 0);
            }
        }

        private static OsPagesException Failure(string call, nuint size) =>
            new(call, size, $"Win32 error {Marshal.GetLastPInvokeError()}");

        [LibraryImport("kernel32", SetLastError = true)]
        private static partial void* VirtualAlloc(void* address, nuint size, uint allocationType, uint protect);

        [LibraryImport("kernel32", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static partial bool VirtualFree(void* address, nuint size, uint freeType);

        [LibraryImport("kernel32", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static partial bool VirtualProtect(void* address, nuint size, uint newProtect, out uint oldProtect);
    }
}
