// The hand-worked sharing section the sharing tests share (no test of its own).

/** Two agent levels (A2 under A1), an ISV, tiers on level 1, a cap per payment. */
export const HAND_SECTION = {
  agents: [{ id: 'A1' }, { id: 'A2', parent: 'A1' }],
  isvs: [{ id: 'I1' }],
  merchants: { M1: { agent: 'A2', isv: 'I1' }, M2: { agent: 'A1' } },
  rules: [
    {
      id: 'R1',
      base: 'fee_net',
      agent_levels: [
        {
          tiers: [
            { volume_from_minor: '0', volume_to_minor: '1000000', rate: '0.30' },
            { volume_from_minor: '1000000', rate: '0.40' },
          ],
        },
        { rate: '0.10' },
      ],
      isv: { rate: '0.05' },
      cap_per_payment_minor: '300',
    },
  ],
};
