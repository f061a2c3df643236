"""The centre's portals (issue 17): results from the agents, approved baselines, state and
history (:mod:`nms.portals.store`), the findings only the holder of the baseline can judge
(:mod:`nms.portals.judge`), and the console pages (:mod:`nms.portals.views`)."""
