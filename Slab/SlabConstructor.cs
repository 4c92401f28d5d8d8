namespace VmaEngine.Slab;

/// <summary>Runs once on an object when it is first carved from a fresh slab (the kmem_cache constructor).</summary>
/// <param name="obj">The object, aligned and sized as its cache says.</param>
public unsafe delegate void SlabConstructor(void* obj);
