/* module_types.c - the table of module types a program may use. */
#include <string.h>

#include "module.h"

/* Each type's table lives in its own file. */
extern const pc_module_type pc__module_predict;
extern const pc_module_type pc__module_chain_of_thought;
extern const pc_module_type pc__module_react;
extern const pc_module_type pc__module_retrieve;
extern const pc_module_type pc__module_best_of_n;
extern const pc_module_type pc__module_refine;
extern const pc_module_type pc__module_multi_chain_comparison;
extern const pc_module_type pc__module_parallel;
extern const pc_module_type pc__module_ensemble;
extern const pc_module_type pc__module_plugin;

static const pc_module_type *const types[] = {
  &pc__module_predict,
  &pc__module_chain_of_thought,
  &pc__module_react,
  &pc__module_retrieve,
  &pc__module_best_of_n,
  &pc__module_refine,
  &pc__module_multi_chain_comparison,
  &pc__module_parallel,
  &pc__module_ensemble,
  &pc__module_plugin,
};

const pc_module_type *pc_module_type_find(const char *name)
{
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (types[i]->load && !strcmp(types[i]->name, name))
      return types[i];
  return NULL;
}

const char *pc_module_type_names(void)
{
  /* Kept equal to the table above, in its order. */
  return "predict, chain_of_thought, react, retrieve, best_of_n, refine, "
         "multi_chain_comparison, parallel, ensemble or plugin";
}
