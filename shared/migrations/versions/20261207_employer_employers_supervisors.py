"""employers, employer_contacts, supervisor_consents, employer ratings and answers, employer_recipients

Revision ID: employer0001
Revises: inputs0001
Create Date: 2026-12-07 19:50:00

The employer survey's records (docs/employers.md): companies, the people there the centre
may ask (supervisors), each alumnus's separate consent that their supervisor be asked (per
wave), the supervisors' ratings of alumni and their companies' answers, and outreach's list of employer contacts it learnt of through
`employer.contact_added`.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'employer0001'
down_revision = 'inputs0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'employers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('name_key', sa.String(200), nullable=False),
        sa.Column('kbli_section', sa.String(1), nullable=True),
        sa.Column('city', sa.String(120), nullable=True),
        sa.Column('address', sa.String(300), nullable=True),
        sa.Column('phone', sa.String(20), nullable=True),
        sa.Column('email', sa.String(254), nullable=True),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_employers_name_key', 'employers', ['name_key'])
    op.create_table(
        'employer_contacts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('employer_id', sa.Integer(), sa.ForeignKey('employers.id'), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('position', sa.String(120), nullable=True),
        sa.Column('phone', sa.String(20), nullable=True),
        sa.Column('email', sa.String(254), nullable=True),
        sa.Column('consent_source', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_employer_contacts_employer_id', 'employer_contacts', ['employer_id'])
    op.create_table(
        'supervisor_consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wave_id', sa.Integer(), sa.ForeignKey('waves.id'), nullable=False),
        sa.Column('alumnus_id', sa.Integer(), sa.ForeignKey('alumni.id'), nullable=False),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('employer_contacts.id'),
                  nullable=False),
        sa.Column('consented_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('wave_id', 'alumnus_id', name='uq_supervisor_consents_wave_alumnus'),
    )
    op.create_index('ix_supervisor_consents_alumnus_id', 'supervisor_consents', ['alumnus_id'])
    op.create_index('ix_supervisor_consents_contact_id', 'supervisor_consents', ['contact_id'])
    op.create_table(
        'employer_ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wave_id', sa.Integer(), sa.ForeignKey('waves.id'), nullable=False),
        sa.Column('alumnus_id', sa.Integer(), sa.ForeignKey('alumni.id'), nullable=False),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('employer_contacts.id'),
                  nullable=True),
        sa.Column('questionnaire_id', sa.Integer(), sa.ForeignKey('questionnaires.id'),
                  nullable=False),
        sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                  nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('wave_id', 'alumnus_id', name='uq_employer_ratings_wave_alumnus'),
    )
    op.create_index('ix_employer_ratings_alumnus_id', 'employer_ratings', ['alumnus_id'])
    op.create_index('ix_employer_ratings_contact_id', 'employer_ratings', ['contact_id'])
    op.create_table(
        'employer_answers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wave_id', sa.Integer(), sa.ForeignKey('waves.id'), nullable=False),
        sa.Column('employer_id', sa.Integer(), sa.ForeignKey('employers.id'), nullable=False),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('employer_contacts.id'),
                  nullable=True),
        sa.Column('questionnaire_id', sa.Integer(), sa.ForeignKey('questionnaires.id'),
                  nullable=False),
        sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                  nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('wave_id', 'employer_id', name='uq_employer_answers_wave_employer'),
    )
    op.create_index('ix_employer_answers_employer_id', 'employer_answers', ['employer_id'])
    op.create_index('ix_employer_answers_contact_id', 'employer_answers', ['contact_id'])
    op.create_table(
        'employer_recipients',
        sa.Column('contact_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('employer_id', sa.Integer(), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('contact_id'),
    )


def downgrade() -> None:
    op.drop_table('employer_recipients')
    op.drop_index('ix_employer_answers_contact_id', 'employer_answers')
    op.drop_index('ix_employer_answers_employer_id', 'employer_answers')
    op.drop_table('employer_answers')
    op.drop_index('ix_employer_ratings_contact_id', 'employer_ratings')
    op.drop_index('ix_employer_ratings_alumnus_id', 'employer_ratings')
    op.drop_table('employer_ratings')
    op.drop_index('ix_supervisor_consents_contact_id', 'supervisor_consents')
    op.drop_index('ix_supervisor_consents_alumnus_id', 'supervisor_consents')
    op.drop_table('supervisor_consents')
    op.drop_index('ix_employer_contacts_employer_id', 'employer_contacts')
    op.drop_table('employer_contacts')
    op.drop_index('ix_employers_name_key', 'employers')
    op.drop_table('employers')
