using System;

namespace VmaEngine.Vma;

/// <summary>The MAP_* flags of mmap, with Linux x86-64 values.</summary>
[Flags]
public enum MapFlags
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>MAP_SHARED.</summary>
    Shared = 0x01,

    /// <summary>MAP_PRIVATE.</summary>
    Private = 0x02,

    /// <summary>
    /// MAP_SHARED_VALIDATE (a MAP_TYPE value, not a bit): MAP_SHARED that refuses, with EOPNOTSUPP, any flag outside
    /// the legacy set instead of ignoring it. Anonymous mappings do not take it (EINVAL).
    /// </summary>
    SharedValidate = 0x03,

    /// <summary>MAP_FIXED: place exactly at the address, replacing what is there.</summary>
    Fixed = 0x10,

    /// <summary>MAP_ANONYMOUS.</summary>
    Anonymous = 0x20,

    /// <summary>MAP_GROWSDOWN.</summary>
    GrowsDown = 0x100,

    /// <summary>MAP_LOCKED.</summary>
    Locked = 0x2000,

    /// <summary>MAP_NORESERVE.</summary>
    NoReserve = 0x4000,

    /// <summary>MAP_POPULATE.</summary>
    Populate = 0x8000,

    /// <summary>MAP_STACK: the mapping is a thread stack; it gets VM_NOHUGEPAGE.</summary>
    Stack = 0x20000,

    /// <summary>
    /// MAP_SYNC: synchronous page faults on DAX files. It sets VM_SYNC on any mapping (which then merges only with
    /// VM_SYNC neighbours); MAP_SHARED_VALIDATE refuses it with EOPNOTSUPP on files without DAX (all of the engine's).
    /// </summary>
    Sync = 0x80000,

    /// <summary>MAP_FIXED_NOREPLACE: place exactly at the address, failing with EEXIST if anything is there.</summary>
    FixedNoReplace = 0x100000,
}
